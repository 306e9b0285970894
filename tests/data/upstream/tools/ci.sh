#!/bin/bash
# Stand-in for an upstream CI script, written for flake-bot's tests. It mimics the house style
# of a ci.sh (one function per CI step, exclusions as run-tests.py arguments) with every
# --exclude shape the registry reader and the patch writer must handle. Never executed.

if which nproc > /dev/null; then
    MAKEOPTS="-j$(nproc)"
fi

########################################################################################
# unix port

CI_UNIX_OPTS_QEMU_ARM=(
    CROSS_COMPILE=arm-linux-gnueabi-
    VARIANT=coverage
)

function ci_unix_build_helper {
    make ${MAKEOPTS} -C ports/unix "$@"
}

function ci_unix_run_tests_helper {
    make -C ports/unix "$@" test
}

function ci_unix_run_tests_full_helper {
    variant=$1
    shift
    make -C ports/unix VARIANT=$variant "$@" test_full
}

function ci_unix_minimal_build {
    ci_unix_build_helper VARIANT=minimal
}

function ci_unix_minimal_run_tests {
    (cd tests && MICROPY_MICROPYTHON=../ports/unix/build-minimal/micropython ./run-tests.py -e exception_chain -e self_type_check -e subclass_native_init -d basics)
}

function ci_unix_standard_build {
    ci_unix_build_helper VARIANT=standard
}

function ci_unix_standard_run_tests {
    ci_unix_run_tests_full_helper standard
}

function ci_unix_float_run_tests {
    # Issues with float tests:
    # - the old asyncio tests rely on timing that float emulation cannot keep
    (cd tests && MICROPY_MICROPYTHON=../ports/unix/build-standard/micropython ./run-tests.py -e 'uasyncio_(basic|gather|heaplock|lock|wait_task)')
}

function ci_unix_32bit_run_tests {
    # Issues with 32-bit tests:
    # - import/import_pkg7.py needs a 64-bit host
    # - extmod/random_basic.py depends on the word size
    (cd tests && MICROPY_MICROPYTHON=../ports/unix/build-coverage/micropython ./run-tests.py --exclude 'import_pkg7.py' --exclude 'random_basic.py')
}

function ci_unix_macos_build {
    ci_unix_build_helper VARIANT=standard
}

function ci_unix_macos_run_tests {
    # Issues with macOS tests:
    # - float_parse and float_parse_doubleprec are a few mantissa bits out
    # - ffi_callback crashes for an unknown reason
    # - thread/stress_heap.py is flaky
    (cd tests && MICROPY_MICROPYTHON=../ports/unix/build-standard/micropython ./run-tests.py --exclude '(float_parse|float_parse_doubleprec|ffi_callback|thread/stress_heap).py')
}

function ci_unix_qemu_mips_run_tests {
    # Issues with MIPS tests:
    # - thread/stress_aes.py takes around 90 seconds
    file ./ports/unix/build-coverage/micropython
    (cd tests && MICROPY_MICROPYTHON=../ports/unix/build-coverage/micropython MICROPY_TEST_TIMEOUT=180 ./run-tests.py)
}

function ci_unix_qemu_arm_build {
    ci_unix_build_helper "${CI_UNIX_OPTS_QEMU_ARM[@]}"
}

function ci_unix_qemu_arm_run_tests {
    # Issues with ARM tests:
    # - thread/stress_recurse.py is flaky
    # - thread/thread_gc1.py is flaky
    file ./ports/unix/build-coverage/micropython
    (cd tests && MICROPY_MICROPYTHON=../ports/unix/build-coverage/micropython MICROPY_TEST_TIMEOUT=120 ./run-tests.py --exclude 'thread/stress_recurse.py|thread/thread_gc1.py')
}

function ci_unix_qemu_ppc_run_tests {
    # Issues with PowerPC tests:
    # - vfs_posix tests need a real filesystem
    # - ffi tests need libffi for the target
    (cd tests && MICROPY_MICROPYTHON=../ports/unix/build-coverage/micropython ./run-tests.py --exclude 'vfs_posix.*\.py' --exclude 'ffi_(callback|float|float2).py')
}

function ci_unix_qemu_riscv64_run_tests {
    # Issues with RISCV-64 tests:
    # - thread/stress_aes.py takes around 180 seconds, so it is left out to save time
    file ./ports/unix/build-coverage/micropython
    pushd tests
    MICROPY_MICROPYTHON=../ports/unix/build-coverage/micropython ./run-tests.py --exclude 'thread/stress_aes.py'
    MICROPY_MICROPYTHON=../ports/unix/build-coverage/micropython ./run-natmodtests.py extmod/heapq*.py extmod/re*.py
    popd
}

function ci_unix_qemu_loong64_run_tests {
    (cd tests && MICROPY_MICROPYTHON=../ports/unix/build-coverage/micropython-runner MICROPY_TEST_TIMEOUT=180 ./run-tests.py)
}

function ci_unix_qemu_x64_run_tests {
    # Issues with x64 tests on non-x64 hosts:
    # - thread/stress_aes.py takes around 90 seconds
    # - ports/unix/ffi_callback.py crashes QEMU
    pushd tests
    MICROPY_MICROPYTHON=../ports/unix/build-coverage/micropython ./run-tests.py --exclude '(thread/stress_aes.py|ports/unix/ffi_callback.py)'
    popd
}

########################################################################################
# zephyr port (not part of the unix workflow; its docker -e flags are not run-tests filters)

function ci_zephyr_run_tests {
    docker run --name zephyr-ci -d -it \
      -e ZEPHYR_BASE=/zephyrproject/zephyr \
      zephyrprojectrtos/ci:v0.0
    (cd tests && ./run-tests.py -t execpty:"qemu-system-arm -kernel zephyr.elf" --exclude inf_nan_arith)
}

########################################################################################
# Main entry point, when run as a script

function _ci_main {
    set -e
    cd "$(dirname "$0")/.."
    "ci_$1"
}

(return 0 2>/dev/null) || _ci_main "$@"
