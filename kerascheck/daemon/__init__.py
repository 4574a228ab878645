"""A background process that keeps kerascheck loaded, for one-file runs (pre-commit).

A fresh ``kerascheck check`` of one file pays for starting Python, importing libcst
(about 0.2 s) and parsing the whole file (about 0.15 s per 1,000 lines) before any
rule runs. With ``check --daemon``, a small client (``client``: standard library only)
hands the command line, the working folder, the environment and its own standard
streams to a daemon (``service``) that has all of that loaded already and keeps the
parse of each file it checked, so that a file's next version re-parses only the
statements that changed. The daemon runs the very same click command, writing straight
to the client's terminal or pipes, so the output is the one a local run prints.

``protocol`` holds what both sides must agree on: where the socket is, how messages are
framed, and the fingerprint that ties a daemon to one installation of kerascheck.
"""
