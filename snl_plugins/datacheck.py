"""What every data-set reader of the package shares to refuse bad data by name (``docs/reliability.md``).

- :class:`DataSetError`: a data set on disk that does not follow its layout (a folder, list line or label the reader
  cannot take); the message names the file or folder and, for list files, the line.
- :class:`UnreadableFileError`: a file that is there but cannot be decoded (a truncated PNG / JPEG, a damaged pickle
  batch or video); raised when the file is read, never by decoding everything when the data set is built.
- :func:`naming_file`: the one place that turns a decoder's anonymous failure (PIL's ``image file is truncated``,
  decord's ``Error reading 0 bytes``, ``pickle data was truncated``) into an :class:`UnreadableFileError` naming the
  file; the image decoder every image reader uses (classification, re-ID),
  :func:`snl_plugins.engine.images.load_image`, runs in it.
- :func:`check_label`: a label read from a list or batch parsed and checked against the number of classes.

Stdlib only, so any part of the package may use it.
"""
from __future__ import annotations

import contextlib
from typing import Iterator, Optional, Union

__all__ = ['DataSetError', 'UnreadableFileError', 'check_label', 'label_error', 'naming_file', 'where']

# a decoder's message is kept to its first line and this many characters: decord appends a C++ stack trace, and
# the original exception stays chained (``__cause__``) for whoever needs all of it
_MAX_DETAIL = 300


class DataSetError(ValueError):
    """A data set on disk is missing a file, holds an unreadable one or disagrees with its layout or lists."""


class UnreadableFileError(DataSetError):
    """A file of a data set is there but cannot be decoded (truncated or corrupt)."""


def where(path: str, source: Optional[str] = None) -> str:
    """``path``, followed by ``(source)`` (e.g. ``list.txt, line 3``) when the file came from a list."""
    return f'{path} ({source})' if source else str(path)


@contextlib.contextmanager
def naming_file(path: str, what: str = 'file', source: Optional[str] = None) -> Iterator[None]:
    """Run the block that decodes ``path``; a failure in it is raised again naming the file.

    Errors that already name what they are about pass unchanged: :class:`DataSetError` (ours) and
    ``FileNotFoundError`` (``source`` is appended to its message, so a missing file also names its list line).

    Args:
        path: the file being decoded.
        what: what it is, for the message ('image', 'video', 'CIFAR pickle').
        source: where ``path`` was listed, e.g. ``'images.txt, line 12'``.

    Raises:
        UnreadableFileError: ``unreadable <what>: <path> (<source>): <error type>: <first line of its message>``,
            chained to the decoder's own exception.
    """
    try:
        yield
    except DataSetError:
        raise
    except FileNotFoundError as err:
        if source:
            raise FileNotFoundError(f'{err} ({source})') from err
        raise
    except Exception as err:  # decoders raise OSError, SyntaxError, ValueError, EOFError, RuntimeError, ...
        detail = (str(err).strip().splitlines() or [''])[0][:_MAX_DETAIL]
        raise UnreadableFileError(f'unreadable {what}: {where(path, source)}: {type(err).__name__}: '
                                  f'{detail}') from err


def label_error(label: object, num_classes: int, at: str, base: int = 0) -> DataSetError:
    """The error for a label outside ``base .. base + num_classes - 1`` (or not an integer), found at ``at``."""
    return DataSetError(f'{at}: label {label!r} is not one of the {num_classes} classes (integers {base}..'
                        f'{base + num_classes - 1})')


def check_label(label: Union[str, int], num_classes: int, at: str, base: int = 0) -> int:
    """A label parsed as an integer and checked to be one of ``num_classes`` classes counted from ``base``.

    Args:
        label: the label as read (text from a list file, or an integer).
        num_classes: how many classes the data set has.
        at: where the label was read, for the message (``'list.txt, line 3'``).
        base: the first label (1 for CUB's 1-based files).

    Returns:
        int: the label, 0-based (``label - base``).

    Raises:
        DataSetError: naming ``at``, when the label is not an integer or out of range.
    """
    try:
        value = int(label)
    except (TypeError, ValueError):
        raise label_error(label, num_classes, at, base) from None
    if (isinstance(label, float) and label != value) or not base <= value < base + num_classes:
        raise label_error(label, num_classes, at, base)
    return value - base
