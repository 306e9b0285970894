#!/bin/bash
# Stand-in for an upstream CI script, written for flake-bot's tests (never executed).

########################################################################################
# unix port

function ci_unix_build_helper {
    make ${MAKEOPTS} -C ports/unix "$@"
}

function ci_unix_minimal_build {
    ci_unix_build_helper VARIANT=minimal
}

function ci_unix_minimal_run_tests {
    (cd tests && MICROPY_MICROPYTHON=../ports/unix/build-minimal/micropython ./run-tests.py -e exception_chain -d basics)
}

function ci_unix_standard_run_tests {
    (cd tests && MICROPY_MICROPYTHON=../ports/unix/build-standard/micropython ./run-tests.py)
}

function ci_unix_coverage_run_tests {
    (cd tests && MICROPY_MICROPYTHON=../ports/unix/build-coverage/micropython ./run-tests.py)
}

function ci_unix_macos_run_tests {
    # Issues with macOS tests:
    # - thread/stress_heap.py is flaky
    (cd tests && ./run-tests.py --exclude '(float_parse|thread/stress_heap).py')
}

function ci_unix_qemu_arm_run_tests {
    # Issues with QEMU ARM tests:
    # - thread/stress_recurse.py is flaky
    (cd tests && MICROPY_TEST_TIMEOUT=90 ./run-tests.py --exclude 'thread/stress_recurse.py')
}

########################################################################################
# qemu port

function ci_qemu_setup_arm {
    sudo apt-get install qemu-system
}

function ci_qemu_build_arm_prepare {
    make ${MAKEOPTS} -C mpy-cross
}

function ci_qemu_build_arm_bigendian {
    ci_qemu_build_arm_prepare
    make ${MAKEOPTS} -C ports/qemu CFLAGS_EXTRA=-DMP_ENDIANNESS_BIG=1
}

function ci_qemu_build_arm_sabrelite {
    ci_qemu_build_arm_prepare
    make ${MAKEOPTS} -C ports/qemu BOARD=SABRELITE test_full
}

function ci_qemu_build_arm_thumb {
    ci_qemu_build_arm_prepare
    make ${MAKEOPTS} -C ports/qemu test_full
}

function ci_qemu_build_rv32 {
    make ${MAKEOPTS} -C ports/qemu BOARD=VIRT_RV32 test_full
}

########################################################################################
# windows port

function ci_windows_build {
    make ${MAKEOPTS} -C ports/windows CROSS_COMPILE=i686-w64-mingw32-
}

########################################################################################
# webassembly port

function ci_webassembly_build {
    make ${MAKEOPTS} -C ports/webassembly
}

function ci_webassembly_run_tests {
    make -C ports/webassembly test_min
}

########################################################################################
# zephyr port

function ci_zephyr_build {
    west build -b qemu_x86 ports/zephyr
}

function ci_zephyr_run_tests {
    # Issues with zephyr tests:
    # - the board has no floating-point formatting
    (cd tests && ./run-tests.py -t execpty:"qemu-system-i386 -serial pty" -d basics --exclude 'basics/int_big.py')
}
