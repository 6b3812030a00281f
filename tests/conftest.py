"""Suite-wide: print pytest-randomly's seed at the end (``-q`` hides its header line), so a
failure that depends on the order can be rerun in that very order."""


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    seed = getattr(config.option, "randomly_seed", None)
    if isinstance(seed, int) and config.pluginmanager.hasplugin("randomly"):
        terminalreporter.write_line(f"random order seed: rerun this order with -p randomly --randomly-seed={seed}")
