#!/usr/bin/env python3
# Stand-in for an upstream test driver, written for flake-bot's tests. flake-bot only reads the
# flaky_tests_to_ignore literal below (with ast); nothing here is ever executed by the tests.

import sys

# Tests that are skipped on every target, for reasons unrelated to flakiness.
tests_to_skip = (
    "thread/mutate_set.py",
    "misc/sys_settrace_features.py",
)

# Known intermittent failures. They still run; a failure is reported as "ignored" and
# does not change the exit status. Values are (reason, platforms), where platforms is
# None for every platform or a tuple of sys.platform names.
flaky_tests_to_ignore = {
    "thread/thread_gc1.py": ("GC race condition", None),
    "thread/stress_heap.py": ("flaky on macOS", ("darwin",)),
    "cmdline/repl_lock.py": ("REPL timing under QEMU", None),
    "extmod/time_time_ns.py": ("CI runner clock precision", None),
}


def main() -> int:
    print(len(tests_to_skip), len(flaky_tests_to_ignore))
    return 0


if __name__ == "__main__":
    sys.exit(main())
