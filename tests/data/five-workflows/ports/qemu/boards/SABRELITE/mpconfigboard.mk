# Thumb-2 only tests cannot run on an ARM-mode core.
RUN_TESTS_ARGS += --exclude 'inlineasm/thumb/asm_t2.py'
