"""The writer: confined paths, and an atomic swap that a SIGKILL cannot leave half-done."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from generator.build import build
from generator.cli import main
from generator.errors import BuildError
from generator.publish.output import MARKER, MARKER_TEXT, SiteFiles, recover, write_site

HANDMADE = Path(__file__).resolve().parent / "projects" / "handmade"


def digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("path", ["/etc/passwd", "../up.html", "a/../../b", "", "a//b",
                                  MARKER])
def test_unsafe_paths_are_refused(tmp_path: Path, path: str) -> None:
    with SiteFiles(tmp_path / "out") as files, pytest.raises(BuildError):
        files.add(path, b"x")


def test_a_path_cannot_be_written_twice(tmp_path: Path) -> None:
    files = SiteFiles(tmp_path / "out")
    files.add("index.html", b"one")
    with pytest.raises(BuildError, match="written twice"):
        files.add("index.html", b"two")
    assert (files.folder / "index.html").read_bytes() == b"one"


def test_files_are_written_to_the_staging_folder_as_they_are_added(tmp_path: Path) -> None:
    files = SiteFiles(tmp_path / "out")
    files.add("pages/a.html", b"<p>a</p>")
    assert files.folder.parent == tmp_path and files.folder.name.startswith(".out.staging-")
    assert (files.folder / "pages" / "a.html").read_bytes() == b"<p>a</p>"
    assert not (tmp_path / "out").exists()  # nothing is published before write_site


def test_site_files_hold_paths_but_no_file_bytes(tmp_path: Path) -> None:
    files = SiteFiles(tmp_path / "out")
    files.update({f"drill/{i}.csv": b"x" * 1000 for i in range(50)})

    def holds_bytes(value: object) -> bool:
        if isinstance(value, (bytes, bytearray, memoryview)):
            return True
        if isinstance(value, dict):
            return any(holds_bytes(k) or holds_bytes(v) for k, v in value.items())
        if isinstance(value, (list, tuple, set, frozenset)):
            return any(holds_bytes(v) for v in value)
        return False

    assert len(files) == 50
    assert not holds_bytes(vars(files))


def test_a_failed_build_discards_its_staging_folder_and_keeps_the_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with SiteFiles(out) as first:
        first.add("a.html", b"1")
        write_site(first)
    with pytest.raises(BuildError), SiteFiles(out) as second:
        second.add("a.html", b"2")
        second.add("a.html", b"3")
    assert (out / "a.html").read_bytes() == b"1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_write_replaces_the_whole_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = SiteFiles(out)
    first.update({"a.html": b"1", "old/b.html": b"2"})
    write_site(first)
    second = SiteFiles(out)
    second.add("a.html", b"3")
    write_site(second)
    assert digest(out) == {
        "a.html": hashlib.sha256(b"3").hexdigest(),
        MARKER: hashlib.sha256(MARKER_TEXT).hexdigest(),
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_recover_restores_a_site_retired_by_a_killed_fallback_swap(tmp_path: Path) -> None:
    retired = tmp_path / ".out.retired-x"
    (retired / "out").mkdir(parents=True)
    (retired / "out" / "index.html").write_text("previous")
    (tmp_path / ".out.staging-y").mkdir()
    recover(tmp_path / "out")
    assert (tmp_path / "out" / "index.html").read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def _built_then_changed(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """The handmade site copied into tmp_path, built into tmp_path/out, then given a new drop
    so that the next build differs: (config, out, digest of the built site)."""
    site = tmp_path / "site"
    shutil.copytree(HANDMADE, site)
    config = site / "config.yaml"
    out = tmp_path / "out"
    build(config, output=out)
    extra = "Case,Created,Replied,Closed,Network,Queue,Priority,Category,Score,Needs Reply\n"
    extra += "v1,2026-11-12 09:00:00,2026-11-12 09:05:00,,twitter,billing,normal,q,,Yes\n"
    (site / "exports" / "w3.csv").write_text(extra, encoding="utf-8")
    return config, out, digest(out)


def test_sigkill_at_random_points_leaves_the_previous_or_the_new_site(tmp_path: Path) -> None:
    config, out, previous = _built_then_changed(tmp_path)
    site = config.parent
    build(config, output=tmp_path / "fresh")
    new = digest(tmp_path / "fresh")
    assert new != previous
    rng = random.Random(20261127)
    command = [sys.executable, "-m", "generator", "build", "--config", str(config),
               "--output", str(out), "--quiet"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    for _ in range(6):
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.0, 2.5))
        process.send_signal(signal.SIGKILL)
        process.wait()
        recover(out)  # what the next build does first
        state = digest(out)
        assert state in (previous, new)
        if state == new:  # the build finished before the kill: start again from the previous
            (site / "exports" / "w3.csv").rename(site / "w3.csv")
            build(config, output=out)
            (site / "w3.csv").rename(site / "exports" / "w3.csv")
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]


def test_sigterm_stops_a_build_cleanly_and_leaves_the_previous_site(
    tmp_path: Path, default_signals: None
) -> None:
    """What a cancelled CI job sends: the build removes its staging folder, says so and exits
    143, rather than dying with the staging folder left behind."""
    config, out, previous = _built_then_changed(tmp_path)
    command = [sys.executable, "-m", "generator", "build", "--config", str(config),
               "--output", str(out), "--no-cache"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not any(p.name.startswith(".out.staging-") for p in tmp_path.iterdir()):
        assert process.poll() is None, "the build ended before it staged anything"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143, err
    assert "terminated; the previous output is untouched." in err
    assert "Traceback" not in err and "leaked" not in err
    assert digest(out) == previous
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "site"]


@pytest.mark.parametrize(("stop", "code", "said"), [
    (KeyboardInterrupt, 130, "interrupted; the new site was published to {out} already."),
    (OSError(28, "No space left on device"), 2,
     "build failed after the new site was published to {out}; the cache does not record it"),
])
def test_a_build_stopped_after_the_swap_says_the_new_site_is_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    stop: BaseException | type[BaseException], code: int, said: str,
) -> None:
    """Ctrl-C, or a full disk, while the cache records a build that has published already:
    the message says the new site is out, not that the previous output is untouched."""
    config, out, previous = _built_then_changed(tmp_path)

    def stopped(*args: object) -> None:
        raise stop

    monkeypatch.setattr("generator.cache.Cache.remember_build", stopped)
    assert main(["build", "--config", str(config), "--output", str(out)]) == code
    err = capsys.readouterr().err
    assert said.format(out=out.resolve()) in err
    assert "untouched" not in err
    assert digest(out) != previous and "w3.csv" in (out / "data" / "summary.json").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "site"]


def test_ctrl_c_while_the_summary_is_printed_says_the_new_site_is_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config, out, previous = _built_then_changed(tmp_path)

    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("generator.cli._warn", interrupted)
    assert main(["build", "--config", str(config), "--output", str(out)]) == 130
    assert f"the new site was published to {out.resolve()} already." in capsys.readouterr().err
    assert digest(out) != previous


def test_a_folder_carecard_did_not_build_is_never_replaced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "site"
    shutil.copytree(HANDMADE, site)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.txt").write_text("important", encoding="utf-8")
    code = main(["build", "--config", str(site / "config.yaml"), "--output", str(docs)])
    assert code == 2
    assert (docs / "notes.txt").read_text(encoding="utf-8") == "important"
    assert "expected an empty folder or a site carecard built, found other files ('notes.txt'" \
        in capsys.readouterr().err
    # An empty folder, or one carecard built, is fine.
    (docs / "notes.txt").unlink()
    assert main(["build", "--config", str(site / "config.yaml"), "--output", str(docs)]) == 0
    assert main(["build", "--config", str(site / "config.yaml"), "--output", str(docs)]) == 0


def test_a_summary_json_without_the_marker_is_refused_once_then_replaced_with_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only the marker carecard writes counts: a folder with a (fake, or pre-marker) summary
    beside someone's thesis is refused with a hint, and replaced when asked to."""
    site = tmp_path / "site"
    shutil.copytree(HANDMADE, site)
    out = tmp_path / "out"
    (out / "data").mkdir(parents=True)
    (out / "data" / "summary.json").write_text('{"tool": "carecard"}\n', encoding="utf-8")
    (out / "thesis.docx").write_bytes(b"years of work")
    before = digest(out)
    build_argv = ["build", "--config", str(site / "config.yaml"), "--output", str(out)]
    assert main(build_argv) == 2
    assert capsys.readouterr().err.splitlines()[0] == (
        f"error: output folder '{out}': expected a site carecard built (with its marker file "
        "'.carecard-site'), found a 'data/summary.json' without the marker (the folder holds "
        "'data', 'thesis.docx'). Hint: a site built by an earlier carecard has no marker; if "
        "nothing else in the folder is needed, pass --replace-output once (carecard replaces "
        "the whole folder on every build).")
    assert digest(out) == before
    assert main([*build_argv, "--replace-output"]) == 0
    assert not (out / "thesis.docx").exists() and (out / MARKER).read_bytes() == MARKER_TEXT
    assert main(build_argv) == 0  # once: the marker is there from now on


@pytest.mark.parametrize(("options", "found"), [
    (["--output", "{site}/.carecard-cache"], "found the same folder"),
    (["--cache-dir", "{site}/output"], "found the same folder"),
    (["--output", "{site}/public", "--cache-dir", "{site}/public/cache"],
     "found one inside the other"),
    (["--cache-dir", "{site}/content/cache"], "inside the folder of the site's content"),
    (["--cache-dir", "{site}/exports/cache"], "inside the folder of the site's 'desk' drops"),
    (["--cache-dir", "{site}"], "found the site root"),
])
def test_a_cache_folder_that_overlaps_the_output_or_the_sources_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], found: str
) -> None:
    site = tmp_path / "site"
    shutil.copytree(HANDMADE, site)
    (site / "content").mkdir()
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    argv = [o.format(site=site) for o in options]
    assert main(["build", "--config", str(site / "config.yaml"), *argv]) == 2
    err = capsys.readouterr().err
    assert "cache folder '" in err and found in err and "Hint:" in err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
    # Without the cache the same output folder is fine.
    if options[0] == "--output":
        assert main(["build", "--config", str(site / "config.yaml"), *argv[:2],
                     "--no-cache"]) == 0


def test_a_cache_folder_beside_the_sources_is_accepted(tmp_path: Path) -> None:
    """Only folders the build reads are refused: a cache in a 'templates' folder the config
    does not name is fine (review: it was refused by name)."""
    site = tmp_path / "site"
    shutil.copytree(HANDMADE, site)
    config = str(site / "config.yaml")
    assert main(["build", "--config", config, "--cache-dir", str(site / "templates" / "c"),
                 "--quiet"]) == 0
    assert (site / "templates" / "c").is_dir()


def test_a_cache_folder_inside_the_configured_templates_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "site"
    shutil.copytree(HANDMADE, site)
    (site / "theme").mkdir()
    text = (site / "config.yaml").read_text(encoding="utf-8")
    (site / "config.yaml").write_text(
        text.replace("  periods: [week]\n", "  periods: [week]\n  templates: theme\n"),
        encoding="utf-8")
    assert main(["build", "--config", str(site / "config.yaml"), "--cache-dir",
                 str(site / "theme" / "cache")]) == 2
    assert "inside the folder of the site's templates" in capsys.readouterr().err


def test_a_staging_folder_is_not_left_behind_by_a_stop_while_it_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C inside SiteFiles() comes before any `with` could clean up (review)."""
    def interrupted(self: SiteFiles, path: str, data: bytes) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(SiteFiles, "_write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        SiteFiles(tmp_path / "out")
    assert list(tmp_path.iterdir()) == []
