"""How every layer words an error it passes on: one line, whatever the library that raised it wrote."""


def one_line_message(error: BaseException) -> str:
    """An error's message on one line (other libraries' messages may span several), or its type when it has none."""
    return " ".join(line.strip() for line in str(error).splitlines() if line.strip()) or type(error).__name__
