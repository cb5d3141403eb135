from promptwitness.cli import entry

entry()
