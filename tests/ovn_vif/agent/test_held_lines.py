"""HeldLines: the root logger's handlers hold their lines for a while, then write all of them."""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Iterator

import pytest

from ovn_vif.agent._held_lines import HeldLines


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    """A logger standing in for the root (its own handlers, no propagation)."""
    log = logging.getLogger("test-held-lines")
    log.setLevel(logging.DEBUG)
    log.propagate = False
    yield log
    for handler in list(log.handlers):
        log.removeHandler(handler)


def _stream(logger: logging.Logger, level: int) -> tuple[io.StringIO, logging.Handler]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.addHandler(handler)
    return out, handler


def test_lines_wait_for_the_end_then_come_in_order(logger: logging.Logger) -> None:
    everything, _ = _stream(logger, logging.DEBUG)
    warnings, _ = _stream(logger, logging.WARNING)
    with HeldLines(logger):
        logger.info("one")
        logger.warning("two")
        logger.debug("three")
        assert everything.getvalue() == warnings.getvalue() == ""
    assert everything.getvalue() == "INFO one\nWARNING two\nDEBUG three\n"
    # Each destination keeps its own level.
    assert warnings.getvalue() == "WARNING two\n"
    # Afterwards, lines are written at once again.
    logger.info("four")
    assert everything.getvalue().endswith("INFO four\n")


def test_a_line_keeps_the_time_it_was_made(logger: logging.Logger) -> None:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger.addHandler(Keep())
    with HeldLines(logger):
        logger.info("made")
        assert records == []
        inside = time.time()
    assert records[0].created <= inside


def test_a_failure_inside_still_writes_the_lines(logger: logging.Logger) -> None:
    out, _ = _stream(logger, logging.DEBUG)

    def fail() -> None:
        with HeldLines(logger):
            logger.error("before the failure")
            raise RuntimeError("engine")

    with pytest.raises(RuntimeError, match="engine"):
        fail()
    assert out.getvalue() == "ERROR before the failure\n"
    assert all(not h.filters for h in logger.handlers)


def test_a_handler_removed_meanwhile_writes_nothing_more(logger: logging.Logger) -> None:
    kept, _ = _stream(logger, logging.DEBUG)
    dropped, dropped_handler = _stream(logger, logging.DEBUG)
    with HeldLines(logger):
        logger.info("held")
        logger.removeHandler(dropped_handler)
    assert kept.getvalue() == "INFO held\n"
    assert dropped.getvalue() == ""


def test_a_handler_filter_still_decides(logger: logging.Logger) -> None:
    """A destination's own filter runs before the hold, and again when written."""
    out, handler = _stream(logger, logging.DEBUG)
    handler.addFilter(lambda record: "secret" not in record.getMessage())
    with HeldLines(logger):
        logger.info("public")
        logger.info("secret")
    assert out.getvalue() == "INFO public\n"


def test_the_root_logger_by_default() -> None:
    root = logging.getLogger()
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        with HeldLines():
            logging.getLogger("ovn_vif._engine.decision").info("Plugging port p1")
            assert out.getvalue() == ""
        assert out.getvalue() == "Plugging port p1\n"
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_another_threads_lines_are_written_at_once(logger: logging.Logger) -> None:
    """An embedding program's other threads do not wait for the loop's commit."""
    out, _ = _stream(logger, logging.DEBUG)
    with HeldLines(logger):
        logger.info("loop")
        worker = threading.Thread(target=lambda: logger.info("worker"))
        worker.start()
        worker.join()
        assert out.getvalue() == "INFO worker\n"
    assert out.getvalue() == "INFO worker\nINFO loop\n"


def test_a_failing_destination_does_not_stop_the_others(logger: logging.Logger) -> None:
    """A handler whose emit raises is reported as logging reports it, and
    the lines after it, and the other destinations, are still written."""
    failures: list[str] = []

    class Broken(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            raise OSError("disk full")

        def handleError(self, record: logging.LogRecord) -> None:
            failures.append(record.getMessage())

    broken = Broken()
    logger.addHandler(broken)
    out, _ = _stream(logger, logging.DEBUG)
    with HeldLines(logger):
        logger.info("one")
        logger.info("two")
    assert failures == ["one", "two"]
    assert out.getvalue() == "INFO one\nINFO two\n"
