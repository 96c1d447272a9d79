"""`sealgate sbom` on the command line: output files and stdout, reproducibility, one-line errors, the
`sbom check` hand-off, and start-up time."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import types

import pytest

from tests.unit.sbom.images import image_blobs, index_blob, layer_tar, oci_archive, write_layout
from verifier.cli import COMMANDS, build_parser, main

FILES = {
    "etc/os-release": b"ID=debian\nVERSION_ID=12\n",
    "var/lib/dpkg/status": b"Package: bash\nStatus: install ok installed\nArchitecture: amd64\nVersion: 5.2.15-2+b2\n",
    "usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA": b"Name: six\nVersion: 1.16.0\n",
}


@pytest.fixture
def archive(tmp_path):
    return oci_archive(tmp_path / "img.tar", [layer_tar(FILES)])


def run(capsys, argv):
    code = main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_writes_the_file_and_says_what_it_found(archive, tmp_path, capsys):
    out = tmp_path / "sbom.json"
    code, stdout, stderr = run(capsys, ["sbom", f"oci-archive:{archive}", "-o", str(out), "--reproducible"])
    assert code == 0 and stdout == ""
    doc = json.loads(out.read_text())
    assert sorted(c["purl"] for c in doc["components"] if "purl" in c) == [
        "pkg:deb/debian/bash@5.2.15-2%2Bb2?arch=amd64&distro=debian-12",
        "pkg:pypi/six@1.16.0",
    ]
    assert "2 packages (deb 1, pypi 1)" in stderr and str(out) in stderr
    first = out.read_bytes()
    assert run(capsys, ["sbom", f"oci-archive:{archive}", "-o", str(out), "--reproducible", "-q"])[0] == 0
    assert out.read_bytes() == first


def test_stdout_and_spec_version(archive, capsys):
    code, stdout, stderr = run(capsys, ["sbom", f"oci-archive:{archive}", "-o", "-", "--spec-version", "1.5", "-q"])
    assert code == 0 and stderr == ""
    assert json.loads(stdout)["specVersion"] == "1.5"


def test_no_matching_platform_is_one_line_and_exit_1_and_nothing_written(tmp_path, capsys):
    blobs: dict[str, bytes] = {}
    top = index_blob([("linux/arm64", image_blobs([layer_tar(FILES)], blobs, platform="linux/arm64"))], blobs)
    layout = write_layout(tmp_path / "idx", top, blobs)
    out = tmp_path / "out.json"
    code, stdout, stderr = run(capsys, ["sbom", f"oci:{layout}", "--platform", "linux/riscv64", "-o", str(out)])
    assert code == 1 and stdout == "" and not out.exists()
    assert stderr.strip().splitlines() == [
        f"error: oci:{layout} index: no image for platform linux/riscv64 in the index (it has linux/arm64)"
    ]


@pytest.mark.parametrize(
    ("argv", "code", "fragment"),
    [
        (["sbom", "oci:/nonexistent"], 2, "no such directory"),
        (["sbom", "dir:/nonexistent"], 2, "not a directory"),
        (["sbom", "oci:/x", "--platform", "linux"], 2, "expected os/arch"),
        (["sbom", "oci-archive:/x.tar", "--attest"], 2, "--attest needs --key"),
        (["sbom", "oci-archive:/x.tar", "--attest", "--key", "k"], 2, "--attest needs a registry image"),
        (["sbom", "oci-archive:/x.tar", "--key", "k"], 2, "--key and --bundle-format go with --attest"),
        (["sbom", "docker-archive:/x.tar", "--platform", "linux/amd64"], 2, "--platform applies to indexes"),
        (["sbom", "dir:/tmp", "--platform", "linux/amd64"], 2, "--platform applies to indexes"),
    ],
)
def test_usage_errors(argv, code, fragment, capsys):
    got, stdout, stderr = run(capsys, argv)
    assert got == code
    assert stderr.startswith("error: ") and fragment in stderr and len(stderr.strip().splitlines()) == 1


def test_unwritable_output_is_one_line(archive, capsys):
    code, _, stderr = run(capsys, ["sbom", f"oci-archive:{archive}", "-o", "/nonexistent/dir/out.json"])
    assert code == 2 and "-o /nonexistent/dir/out.json: No such file or directory" in stderr


def test_sbom_check_is_handed_to_its_own_module(monkeypatch, capsys):
    seen = []
    module = types.ModuleType("verifier.cli._sbom_check")
    module.run = lambda argv: seen.append(argv) or 7  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "verifier.cli._sbom_check", module)
    assert main(["-v", "sbom", "check", "sbom.json", "--policy", "p.yaml"]) == 7
    assert seen == [["sbom.json", "--policy", "p.yaml"]]


def test_the_command_table_matches_what_the_modules_register():
    full = build_parser()
    commands = next(a for a in full._actions if a.__class__.__name__ == "_SubParsersAction")
    helps = {c.dest: c.help for c in commands._choices_actions}
    assert helps == {name: text for name, (_, text) in COMMANDS.items()}
    assert list(commands.choices) == list(COMMANDS)
    assert build_parser(lazy=True).format_help() == full.format_help()


def _median_seconds(argv: list[str], runs: int = 5) -> float:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "verifier.cli", *argv], check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def test_start_up_is_fast_for_help():
    """CI calls the CLI many times: --help must not import the registry client, crypto or cyclonedx."""
    baseline = _median_seconds(["--version"])  # interpreter + argparse: what no laziness can remove
    for argv in (["--help"], ["sbom", "--help"]):
        took = _median_seconds(argv)
        assert took < max(0.15, baseline * 1.5), (
            f"sealgate {' '.join(argv)} took {took:.3f}s (baseline {baseline:.3f}s)"
        )
    imported = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from verifier.cli import main\n"
            "try:\n    main(['sbom', '--help'])\nexcept SystemExit:\n    pass\n"
            "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('httpx', 'cryptography', 'cyclonedx', 'sigstore', 'verifier'))), file=sys.stderr)",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stderr.split()
    assert imported and not [m for m in imported if not m.startswith("verifier")], imported
    assert "verifier.sbom" not in imported and "verifier.oci" not in imported and "verifier.registry" not in imported


def test_progress_line_on_a_terminal_only(archive, capsys, monkeypatch):
    import io

    from verifier.cli._sbom import _Bar

    stream = io.StringIO()
    bar = _Bar(stream)
    bar("layer 1/2 sha256:abc", 0, 2)
    bar("layers read", 2, 2)
    bar.clear()
    assert stream.getvalue().count("\r\x1b[K") == 3 and "[############............] 1/2" not in stream.getvalue()
    assert "[########################] 2/2 layers read" in stream.getvalue()
    code, _, stderr = run(capsys, ["sbom", f"oci-archive:{archive}", "-o", "-"])  # stderr is not a terminal here
    assert code == 0 and "\r" not in stderr


def test_layers_are_read_with_a_short_thread_switch_interval_and_it_is_restored(archive, capsys, monkeypatch):
    import verifier.sbom

    seen: list[float] = []
    real = verifier.sbom.generate

    def generate(*args, **kwargs):
        seen.append(sys.getswitchinterval())
        return real(*args, **kwargs)

    monkeypatch.setattr(verifier.sbom, "generate", generate)
    before = sys.getswitchinterval()
    code, _, _ = run(capsys, ["sbom", "-q", f"oci-archive:{archive}", "-o", "-"])
    assert code == 0
    assert seen == [pytest.approx(0.0005)] and before > 0.001
    assert sys.getswitchinterval() == before


@pytest.mark.parametrize("epoch", ["999999999999", "99999999999999999", "9" * 40])
def test_a_source_date_epoch_past_the_year_9999_is_a_usage_error(archive, capsys, monkeypatch, epoch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", epoch)
    code, out, err = run(capsys, ["sbom", "--reproducible", f"oci-archive:{archive}", "-o", "-"])
    assert code == 2 and out == ""
    assert err.strip() == f"error: SOURCE_DATE_EPOCH={epoch[:30]} is not a time before the year 10000"
