"""The ``pthguard`` command line, the only layer that prints.

* :mod:`~pthguard.cli.app`: ``main()``, the parser built from every command, and the one
  place where errors become exit codes;
* :mod:`~pthguard.cli.context`: the I/O a command may use (``out``, ``err``, the clock, the
  terminal), injectable for tests;
* :mod:`~pthguard.cli.command`: what a command is, and how it joins the parser;
* :mod:`~pthguard.cli.commands`: the commands, one module per group.

Exit codes: 0 clean; 1 differences or findings; 2 usage; 3 operational error.
"""
