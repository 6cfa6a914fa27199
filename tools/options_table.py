"""Write the table of every option into docs/ARCHITECTURE.md (between the "options table" markers).

Run: python tools/options_table.py   (a test fails when the table is out of date)
"""

from __future__ import annotations

from pathlib import Path

from facetransfer.commands.configs import options_table

DOC = Path(__file__).resolve().parents[1] / "docs" / "ARCHITECTURE.md"
BEGIN, END = "<!-- options table: begin -->", "<!-- options table: end -->"


def main() -> None:
    text = DOC.read_text(encoding="utf-8")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{BEGIN}\n{options_table()}{END}{tail}", encoding="utf-8")


if __name__ == "__main__":
    main()
