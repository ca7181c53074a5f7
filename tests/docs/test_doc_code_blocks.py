"""Every code block of README.md and docs/*.md runs, so the docs cannot drift from the API.

Per Markdown file, the ```python blocks run in order in one namespace, in a fresh temporary
folder that is the current directory, so ``featurestore.connect()`` opens a fresh embedded
store there. A ```bash block whose commands all start with ``featurestore`` runs too (through
this interpreter, in the same folder, after the python blocks before it), and must exit 0.
Other ```bash blocks (``make demo``, ``pip install``) are set-up instructions and are not run;
a block that mixes ``featurestore`` commands with other commands is an error, so a CLI call
can never hide in one. A block preceded by ``<!-- skip: reason -->`` is not run; the reason
is required, and skips are kept rare (a REST catalog server or S3 that the page only shows).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_FENCE = re.compile(r"^```(\w*)\s*$")
_SKIP = re.compile(r"^<!--\s*skip:\s*(\S.*?)\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    """One fenced code block of a Markdown file."""

    path: Path
    line: int
    language: str
    code: str
    skip_reason: str | None

    @property
    def where(self) -> str:
        shown = self.path.relative_to(ROOT) if self.path.is_relative_to(ROOT) else self.path
        return f"{shown}:{self.line}"


def extract_blocks(path: Path) -> list[Block]:
    """Return the fenced blocks of ``path`` in order, with their skip markers."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if not match:
            index += 1
            continue
        start = index
        end = start + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        if end == len(lines):
            pytest.fail(f"{path.name}:{start + 1}: unclosed code fence")
        previous = _previous_nonblank(lines, start)
        skip = _SKIP.match(previous) if previous is not None else None
        code = "\n".join(lines[start + 1 : end]) + "\n"
        blocks.append(Block(path, start + 1, match.group(1), code, skip and skip.group(1)))
        index = end + 1
    return blocks


def _previous_nonblank(lines: list[str], index: int) -> str | None:
    for line in reversed(lines[:index]):
        if line.strip():
            return line.strip()
    return None


def cli_commands(block: Block) -> list[str]:
    """The ``featurestore`` commands of a bash block ([] for a set-up block)."""
    commands = [
        line.split(" #")[0].strip()
        for line in block.code.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    ours = [c for c in commands if c.startswith("featurestore ")]
    if ours and len(ours) != len(commands):
        pytest.fail(f"{block.where}: split featurestore commands from other shell commands")
    return ours


def run_block(block: Block, namespace: dict[str, object], cwd: Path) -> None:
    """Run one block (python in ``namespace``, featurestore commands as subprocesses)."""
    if block.language == "python":
        code = compile(block.code, block.where, "exec")
        exec(code, namespace)
        return
    for command in cli_commands(block):
        argv = [sys.executable, "-m", "featurestore.cli", *shlex.split(command)[1:]]
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
        assert done.returncode == 0, (
            f"{block.where}: `{command}` exited {done.returncode}\n{done.stdout}\n{done.stderr}"
        )


def test_every_doc_file_is_collected() -> None:
    names = {p.name for p in DOC_FILES}
    expected = {
        "README.md",
        "quickstart.md",
        "concepts.md",
        "retrieval.md",
        "configuration.md",
        "cli.md",
        "model-runs.md",
        "coming-from-feast.md",
        "errors.md",
    }
    assert expected <= names, f"missing docs: {sorted(expected - names)}"


def test_skip_markers_are_rare() -> None:
    blocks = [b for path in DOC_FILES for b in extract_blocks(path)]
    runnable = [b for b in blocks if b.language in ("python", "bash")]
    skipped = [b.where for b in runnable if b.skip_reason]
    assert len(skipped) * 5 <= len(runnable), f"too many skipped blocks: {skipped}"


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: p.name)
def test_code_blocks_run(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = [b for b in extract_blocks(path) if b.language in ("python", "bash")]
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    namespace: dict[str, object] = {"__name__": f"docs_{path.stem.replace('-', '_')}"}
    for block in blocks:
        if block.skip_reason is None:
            run_block(block, namespace, tmp_path)


def test_extraction_reads_skip_markers_and_languages(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# t\n\n```python\nx = 1\n```\n\n<!-- skip: needs a REST server -->\n\n"
        "```python\nraise SystemExit\n```\n\n```bash\nfeaturestore info\n```\n"
    )
    blocks = extract_blocks(page)
    assert [(b.line, b.language, b.skip_reason) for b in blocks] == [
        (3, "python", None),
        (9, "python", "needs a REST server"),
        (13, "bash", None),
    ]
    assert cli_commands(blocks[2]) == ["featurestore info"]


def test_a_bash_block_mixing_cli_and_other_commands_is_rejected(tmp_path: Path) -> None:
    page = tmp_path / "mixed.md"
    page.write_text("```bash\nmake demo\nfeaturestore info\n```\n")
    with pytest.raises(pytest.fail.Exception, match="split featurestore commands"):
        cli_commands(extract_blocks(page)[0])


def test_a_failing_block_fails_with_its_location(tmp_path: Path) -> None:
    page = tmp_path / "broken.md"
    page.write_text("text\n\n```python\nassert 1 == 2, 'docs drifted'\n```\n")
    with pytest.raises(AssertionError, match="docs drifted") as info:
        run_block(extract_blocks(page)[0], {}, tmp_path)
    assert any(str(entry.path).endswith("broken.md:3") for entry in info.traceback)
