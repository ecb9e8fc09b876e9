"""How every layer words an error it passes on: one line, whatever the library that raised it wrote; `hrm` prints it
as `error_line` words it, and so does the web app, unless `HRM_DEBUG` asks for the traceback."""

import os


def one_line_message(error: BaseException) -> str:
    """An error's message on one line (other libraries' messages may span several), or its type when it has none."""
    return " ".join(line.strip() for line in str(error).splitlines() if line.strip()) or type(error).__name__


def debug() -> bool:
    """Whether `HRM_DEBUG` asks for tracebacks: any value but empty, `0`, `false`, `no` or `off`."""
    return os.environ.get("HRM_DEBUG", "").strip().lower() not in ("", "0", "false", "no", "off")


# The longest error line `hrm` prints: another library's message may quote a whole file or tensor.
MAX_ERROR_CHARS = 600


def expected_errors() -> tuple[type[Exception], ...]:
    """What `hrm` words as refusals: bad input or a file problem, and a config field of the wrong type
    (transformers' configs check field types through huggingface_hub's strict dataclasses). Called only once an
    exception is raised, so that `hrm --help` does not import huggingface_hub."""
    from huggingface_hub.errors import StrictDataclassError

    return (ValueError, OSError, StrictDataclassError)


def error_line(error: Exception) -> str:
    """The one line `hrm` (and the web app) prints for `error`: its message, led by its type when it is none of the
    refusals the commands raise on purpose (a library's exception from a file or value nothing checked), at most
    `MAX_ERROR_CHARS` long."""
    message = one_line_message(error)
    if not isinstance(error, expected_errors()):
        message = f"{type(error).__name__}: {message} (unexpected; HRM_DEBUG=1 shows where it was raised)"
    if len(message) > MAX_ERROR_CHARS:
        message = message[: MAX_ERROR_CHARS - 3] + "..."
    return f"error: {message}\n"
