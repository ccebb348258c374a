"""Drawing the charts: the cache, and worker processes that owe nothing to the build process."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import sitefakes  # noqa: F401  (puts the repository on sys.path)
from test_charts import spec

import generator.site.drawing
from generator.build import build
from generator.cache import Cache
from generator.site.charts import draw_chart
from generator.site.drawing import PARALLEL_FROM, ChartDrawer

ROOT = Path(__file__).resolve().parent.parent
HANDMADE = ROOT / "tests" / "projects" / "handmade"
linux_cores = pytest.mark.skipif(
    not sys.platform.startswith("linux") or (os.cpu_count() or 1) < 2,
    reason="charts are drawn in worker processes on Linux with two cores or more",
)


def children(pid: int) -> list[int]:
    """Live (not zombie) child processes of `pid`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid and stat[0] != "Z":
                found.append(int(entry))
    return found


def descendants(pid: int) -> list[int]:
    return [p for c in children(pid) for p in [c, *descendants(c)]]


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def servers() -> list[int]:
    return [p for p in children(os.getpid()) if "multiprocessing.forkserver" in command_line(p)]


def test_charts_drawn_in_workers_are_the_bytes_drawn_in_this_process() -> None:
    specs = [spec(f"Chart {i}", panels=1 + i % 5) for i in range(PARALLEL_FROM + 2)]
    with ChartDrawer(workers=2).start(specs) as pending:
        drawn = pending.result()
    assert [d.svg for d in drawn] == [draw_chart(s) for s in specs]
    assert not [d.error for d in drawn if d.error]


def test_few_charts_are_drawn_in_this_process_until_a_build_started_the_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(generator.site.drawing, "_started", False)
    specs = [spec(f"Chart {i}") for i in range(PARALLEL_FROM - 1)]
    with ChartDrawer(workers=2).start(specs) as pending:
        assert pending._pool is None
        drawn = pending.result()
    assert [d.svg for d in drawn] == [draw_chart(s) for s in specs]


def test_elsewhere_than_linux_every_chart_is_drawn_in_this_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(generator.site.drawing, "_forks", lambda: False)
    specs = [spec(f"Chart {i}") for i in range(PARALLEL_FROM + 1)]
    with ChartDrawer(workers=2).start(specs) as pending:
        assert pending._pool is None
        assert len(pending.result()) == len(specs)


def test_cached_charts_are_not_drawn_again(tmp_path: Path) -> None:
    specs = [spec(f"Chart {i}") for i in range(3)]
    first = ChartDrawer(Cache(tmp_path), workers=2)
    with first.start(specs) as pending:
        svgs = [d.svg for d in pending.result()]
    again = ChartDrawer(Cache(tmp_path), workers=2)
    with again.start([*specs, spec("New")]) as pending:
        assert [d.svg for d in pending.result()][:3] == svgs
    assert (first.drawn, first.from_cache, again.drawn, again.from_cache) == (3, 0, 1, 3)


@linux_cores
def test_workers_are_forked_from_a_server_not_from_this_process() -> None:
    specs = [spec(f"Chart {i}") for i in range(40)]
    with ChartDrawer(workers=2).start(specs) as pending:
        assert pending._pool is not None and pending._pool._mp_context is not None
        assert pending._pool._mp_context.get_start_method() == "forkserver"
        # Only multiprocessing's server and resource tracker are children of this process.
        ours = children(os.getpid())
        assert all(" -c from multiprocessing." in command_line(p) for p in ours)
        assert len([w for p in servers() for w in children(p)]) == 2
        pending.result()


@linux_cores
def test_repeated_builds_in_one_process_share_one_server_and_give_the_same_site(
    tmp_path: Path,
) -> None:
    site = tmp_path / "site"
    shutil.copytree(HANDMADE, site)
    sites = []
    for n in range(3):
        result = build(site / "config.yaml", output=tmp_path / f"out{n}", use_cache=False)
        assert result.charts_drawn == result.charts > 0
        sites.append({p.relative_to(result.output): p.read_bytes()
                      for p in sorted(result.output.rglob("*")) if p.is_file()})
        assert len(servers()) == 1
    assert sites[0] == sites[1] == sites[2]


@linux_cores
def test_a_build_with_nothing_to_do_starts_no_server(tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(HANDMADE, site)
    build(site / "config.yaml")
    script = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(ROOT / "tests")!r})
        from test_drawing import children
        from generator.build import build
        assert build({str(site / "config.yaml")!r}).skipped
        print(len(children(os.getpid())))
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip() == "0"


@linux_cores
def test_a_killed_build_leaves_no_worker_and_no_lock_behind(tmp_path: Path) -> None:
    # A build holding the output lock while its workers draw (many charts, so that they are
    # still drawing when it is killed).
    lock_folder = tmp_path / "sites"
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT / "tests")!r})
        from pathlib import Path
        from test_charts import spec
        from generator.site.drawing import ChartDrawer, start_server
        from generator.publish.output import output_lock

        with output_lock(Path({str(lock_folder / "out")!r})):
            start_server()
            pending = ChartDrawer(workers=2).start([spec(str(i)) for i in range(2000)])
            print("drawing", flush=True)
            time.sleep(120)
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                               text=True)
    try:
        assert process.stdout is not None and process.stdout.readline() == "drawing\n"
        deadline = time.monotonic() + 30
        # The resource tracker, the server and its two workers.
        while len(tree := descendants(process.pid)) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(tree) == 4
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    handle = os.open(lock_folder, os.O_RDONLY)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # nobody holds the lock now
    finally:
        os.close(handle)
    deadline = time.monotonic() + 10
    while [p for p in tree if alive(p)] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [command_line(p) for p in tree if alive(p)] == []


@linux_cores
def test_a_script_without_a_main_guard_builds_with_workers_forked_from_it(
    tmp_path: Path
) -> None:
    """A server's worker imports the main module again: a script that builds at import time
    would build in every worker, which would wait for this build's output lock forever. Such
    a script gets workers forked from itself (found in review)."""
    shutil.copytree(HANDMADE, tmp_path / "site")
    script = tmp_path / "make_site.py"
    script.write_text(textwrap.dedent(f"""
        from generator.build import build
        build({str(tmp_path / "site" / "config.yaml")!r}, use_cache=False)
        print("built")
    """))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, str(script)], env=env, cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        out, err = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the build, its server and stuck workers
        process.communicate()
        pytest.fail("the build hung: its chart workers wait for the output lock it holds")
    assert process.returncode == 0, err[-400:]
    assert out.strip().endswith("built")


@linux_cores
def test_a_server_that_cannot_start_leaves_the_workers_forked_from_the_build(
    tmp_path: Path
) -> None:
    """The server listens on a Unix socket under TMPDIR, whose path may not be longer than
    107 bytes: with a longer TMPDIR the build warns and forks its workers itself (review)."""
    shutil.copytree(HANDMADE, tmp_path / "site")
    long_tmp = tmp_path / ("t" * 110)
    long_tmp.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(long_tmp)}
    done = subprocess.run(
        [sys.executable, "-m", "generator", "build", "--config",
         str(tmp_path / "site" / "config.yaml"), "--output", str(tmp_path / "out"),
         "--no-cache"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-400:]
    assert "could not start the chart workers' server" in done.stderr
    build(tmp_path / "site" / "config.yaml", output=tmp_path / "reference", use_cache=False)
    assert tree_files(tmp_path / "out") == tree_files(tmp_path / "reference")


def tree_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(("source", "guarded"), [
    ("import sys\nfrom generator.cli import main\nif __name__ == '__main__':\n"
     "    sys.exit(main())\n", True),  # a console script
    ('"""Doc."""\nimport os\nLIMIT = 3\nif "__main__" == __name__:\n    pass\n', True),
    ("from generator.build import build\nbuild('site/config.yaml')\n", False),
    ("# if __name__ == '__main__': in a comment only\nimport os\nos.getcwd()\n", False),
    ("import os\nroot = os.getcwd()\nif __name__ == '__main__':\n    pass\n", False),
])
def test_a_main_module_is_guarded_only_if_importing_it_runs_nothing(
    source: str, guarded: bool
) -> None:
    """Which programs may get workers from the server, whose workers import the main module
    again (a loose text search took a comment for a guard; review)."""
    import ast

    from generator.site.drawing import _inert

    assert all(_inert(statement) for statement in ast.parse(source).body) is guarded


def ignored(pid: int) -> set[int]:
    """The signals process `pid` ignores."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            mask = int(line.split()[1], 16)
            return {n + 1 for n in range(64) if mask >> n & 1}
    return set()


@linux_cores
def test_ctrl_c_is_the_builds_to_report_not_the_servers_or_the_workers() -> None:
    """Ctrl-C goes to the whole process group: the server and its workers ignore it (the
    server printed a KeyboardInterrupt traceback when it came while it imported matplotlib),
    and this process still gets it."""
    specs = [spec(f"Chart {i}") for i in range(40)]
    with ChartDrawer(workers=2).start(specs) as pending:
        workers = [w for p in servers() for w in children(p)]
        assert servers() and workers
        for pid in servers() + workers:
            assert signal.SIGINT in ignored(pid)
        pending.result()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, set())


@linux_cores
def test_workers_forked_from_the_build_leave_signals_to_it(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers forked from the build (no server) would inherit its SIGTERM handler, which
    raises in the worker: they ignore Ctrl-C and die quietly on SIGTERM instead."""
    monkeypatch.setattr(generator.site.drawing, "_run_server", lambda: False)
    monkeypatch.setattr(generator.site.drawing, "_started", True)
    raised: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda *_: raised.append(1))
    try:
        with ChartDrawer(workers=2).start([spec(f"Chart {i}") for i in range(400)]) as pending:
            workers = [p for p in children(os.getpid()) if "multiprocessing" not in command_line(p)]
            assert workers
            for pid in workers:
                deadline = time.monotonic() + 30
                while signal.SIGINT not in ignored(pid):  # the worker has started
                    assert time.monotonic() < deadline
                    time.sleep(0.005)
                os.kill(pid, signal.SIGTERM)
            with pytest.raises(Exception, match="terminated abruptly"):
                pending.result()
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert not raised


def test_a_worker_started_after_its_build_ended_fails_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A worker that starts while its build stops (Ctrl-C, SIGTERM) finds the build's
    semaphores removed: the server's hook prints nothing for that (the build says why it
    stopped), and everything else as usual."""
    from multiprocessing import synchronize

    # Importing the module sets the server's error hook and has it ignore Ctrl-C: undone after.
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    interrupt = signal.getsignal(signal.SIGINT)
    try:
        from generator.chartserver import quiet_orphans
    finally:
        signal.signal(signal.SIGINT, interrupt)

    lock = synchronize.Lock.__new__(synchronize.Lock)
    with pytest.raises(FileNotFoundError) as orphaned:
        lock.__setstate__((0, 1, 1, "/carecard-test-no-such-semaphore"))  # type: ignore[attr-defined]
    quiet_orphans(orphaned.type, orphaned.value, orphaned.tb)
    assert capsys.readouterr().err == ""
    with pytest.raises(FileNotFoundError) as other:
        Path("/carecard-test-no-such-file").read_bytes()
    quiet_orphans(other.type, other.value, other.tb)
    assert "No such file or directory" in capsys.readouterr().err


@linux_cores
def test_a_pool_broken_while_the_build_stops_prints_no_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SIGTERM to the whole process group kills the workers while the build cancels what it
    had left to draw; Python 3.11's pool then printed an InvalidStateError traceback from its
    manager thread (gh-107219). The build prints nothing for that one error, and reports the
    errors of other threads as before."""
    import multiprocessing
    import threading
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    reported: list[type[BaseException]] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: reported.append(args.exc_type))
    monkeypatch.setattr(generator.site.drawing, "_quieted", False)
    generator.site.drawing._quiet_broken_pool_race()
    failing = threading.Thread(target=int, args=("not a number",))
    failing.start()
    failing.join()
    assert reported == [ValueError]
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
    running = pool.submit(time.sleep, 60)
    queued = [pool.submit(time.sleep, 60) for _ in range(3)]
    deadline = time.monotonic() + 30
    while not running.running():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert queued[-1].cancel()
    for worker in list(pool._processes.values()):
        assert worker.pid is not None
        os.kill(worker.pid, signal.SIGKILL)
    with pytest.raises(BrokenProcessPool):
        running.result(timeout=30)
    pool.shutdown()
    assert reported == [ValueError]
