"""Reading the files users name: regular files only, of a bounded size, and archives that stay in place.

Every model, data and target file onnxgate reads goes through these checks first, so a hostile
path fails with one clear input error instead of hanging or exhausting memory:

* **Regular files only.** A fifo, socket or device (``/dev/zero``, a symlink to it) is refused
  before it is opened: reading a fifo blocks forever, reading a device never ends. The check is
  made with ``stat`` (which follows symlinks) and, where onnxgate reads the bytes itself, again on
  the open descriptor (opened non-blocking, so a path swapped for a fifo between the two cannot
  hang either).
* **A size cap, checked before reading.** Model and data files: ``ONNXGATE_MAX_INPUT_MB``
  (default 4096 MB; for an archive it bounds the sum of its members' uncompressed sizes). Small
  text files that describe something (target files, an archive's ``config.json``):
  ``ONNXGATE_MAX_CONFIG_MB`` (default 16 MB). Raise either by setting the variable.
* **Folders and archives stay inside themselves.** A SavedModel folder may hold only regular files
  and folders, and a symlink only when it resolves inside the folder. A zip archive (``.keras``,
  ``.skops``, ``.pt2``) may not name a member with an absolute path or ``..``, may not hold a
  symlink member, and may not hold a member that expands more than :data:`MAX_COMPRESSION_RATIO`
  times (real weights do not compress like that; a zip bomb does). A ``.h5`` member (Keras weights)
  must start like an HDF5 file: Keras reads that member whole into memory, so a stored member of
  zeros would otherwise cost twice its size in RAM.
"""

from __future__ import annotations

import errno
import os
import stat
import zipfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from onnxgate.errors import OnnxGateError, OutputExistsError

__all__ = [
    "CONFIG_LIMIT_ENV",
    "INPUT_LIMIT_ENV",
    "MAX_COMPRESSION_RATIO",
    "check_folder_confined",
    "check_regular_file",
    "check_zip_archive",
    "config_limit",
    "dangling_link",
    "describe_content",
    "describe_unreachable",
    "input_limit",
    "is_hdf5_file",
    "link_loop_refusal",
    "link_loops",
    "link_note",
    "occupied",
    "read_regular_file",
    "refuse_dangling_folder_link",
    "refuse_filled_folder",
]

INPUT_LIMIT_ENV = "ONNXGATE_MAX_INPUT_MB"
CONFIG_LIMIT_ENV = "ONNXGATE_MAX_CONFIG_MB"
_DEFAULT_INPUT_MB = 4096
_DEFAULT_CONFIG_MB = 16
#: A member larger than 64 MB that expands more than this many times is refused as a zip bomb.
MAX_COMPRESSION_RATIO = 200
_RATIO_FLOOR = 64 * 2**20
#: Archive members that hold descriptions (JSON), capped by the config limit.
_CONFIG_MEMBERS = frozenset({"config.json", "metadata.json", "schema.json"})

_MB = 2**20


def _limit(env: str, default_mb: int) -> int:
    text = os.environ.get(env, "").strip()
    if not text:
        return default_mb * _MB
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise OnnxGateError(f"{env} must be a positive number of megabytes, found {text!r}")
    return int(value * _MB)


def input_limit() -> int:
    """The largest model or data file onnxgate reads, in bytes (``ONNXGATE_MAX_INPUT_MB``, default 4096)."""
    return _limit(INPUT_LIMIT_ENV, _DEFAULT_INPUT_MB)


def config_limit() -> int:
    """The largest target file or archived ``config.json``, in bytes (``ONNXGATE_MAX_CONFIG_MB``, default 16)."""
    return _limit(CONFIG_LIMIT_ENV, _DEFAULT_CONFIG_MB)


def _mb(size: int) -> str:
    return f"{size / _MB:.1f} MB"


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a fifo (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def _limit_hint(env: str) -> str:
    return f"if it is meant to be this large, raise the limit with {env}=<megabytes>"


def _check_stat(st: os.stat_result, path: str, what: str, error: type[OnnxGateError], limit: int, env: str) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise error(
            f"{what} {path!r} is {_kind(st.st_mode)}; expected a regular file. Copy the content to a file "
            "and pass that file",
            path=path,
        )
    if st.st_size > limit:
        raise error(
            f"{what} {path!r} is {_mb(st.st_size)}, above the {_mb(limit)} limit for {what}s; "
            + _limit_hint(env),
            path=path,
        )


def check_regular_file(
    path: str | os.PathLike[str],
    *,
    what: str,
    error: type[OnnxGateError],
    config: bool = False,
) -> int:
    """Refuse a path that is not a regular file or is above the size cap; return its size.

    Parameters
    ----------
    path : str or os.PathLike
        The path as the user gave it (symlinks are followed: a link to ``/dev/zero`` is a device).
    what : str
        What the file is, for the message (``"model file"``, ``"data file"``).
    error : type of OnnxGateError
        The error to raise (``InvalidModelError``, ``InvalidDataError``, ``TargetError``...).
    config : bool
        Apply the config limit (``ONNXGATE_MAX_CONFIG_MB``) instead of the input limit.

    Returns
    -------
    int
        The file's size in bytes.

    Raises
    ------
    OnnxGateError
        Of type ``error``: missing, special, or too large.

    Examples
    --------
    >>> check_regular_file("/dev/zero", what="data file", error=OnnxGateError)
    Traceback (most recent call last):
    ...
    onnxgate.errors.OnnxGateError: data file '/dev/zero' is a character device; expected a regular file. ...
    """
    text = os.fspath(path)
    try:
        st = os.stat(text)
    except OSError as err:
        raise error(describe_unreachable(text, what, err), path=text) from None
    env = CONFIG_LIMIT_ENV if config else INPUT_LIMIT_ENV
    _check_stat(st, text, what, error, config_limit() if config else input_limit(), env)
    return int(st.st_size)


def read_regular_file(
    path: str | os.PathLike[str],
    *,
    what: str,
    error: type[OnnxGateError],
    config: bool = False,
) -> bytes:
    """The bytes of a regular file below the size cap, read without ever blocking on a fifo.

    The file is opened non-blocking and checked again on the descriptor, so a path replaced by a
    fifo or a device after :func:`check_regular_file` is still refused, and at most the cap plus
    one byte is ever read (a file that grows while being read is refused too).

    Raises
    ------
    OnnxGateError
        Of type ``error``: missing, special, unreadable, or too large.
    """
    text = os.fspath(path)
    check_regular_file(text, what=what, error=error, config=config)
    limit = config_limit() if config else input_limit()
    env = CONFIG_LIMIT_ENV if config else INPUT_LIMIT_ENV
    try:
        fd = os.open(text, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        raise error(describe_unreachable(text, what, err), path=text) from None
    with os.fdopen(fd, "rb") as handle:
        st = os.fstat(fd)
        _check_stat(st, text, what, error, limit, env)
        try:
            data = _read_capped(handle, st.st_size, limit)
        except OSError as err:
            raise error(f"cannot read {what} {text!r}: {err.strerror}", path=text) from None
    if len(data) > limit:
        raise error(f"{what} {text!r} grew above the {_mb(limit)} limit while being read; " + _limit_hint(env),
                    path=text)
    return data


def _read_capped(handle: BinaryIO, size: int, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of ``handle``, whose file fstat gave ``size`` bytes (at most ``limit``).

    Read into a buffer of the file's size, then on in pieces only when the file grew: ``read(limit + 1)``
    allocates the whole cap up front, 4 GiB to read a 1 KB model, and under an address-space limit
    (``ulimit -v``, a container's) ``onnxgate validate model.onnx`` failed with "unexpected MemoryError".
    """
    data = handle.read(size + 1)
    if len(data) <= size:
        return data  # the size fstat gave, or fewer bytes: read to the end
    parts, total = [data], len(data)
    while total <= limit:
        part = handle.read(min(_MB, limit + 1 - total))
        if not part:
            break
        parts.append(part)
        total += len(part)
    return b"".join(parts)


def check_folder_confined(
    folder: str | os.PathLike[str],
    *,
    what: str,
    error: type[OnnxGateError],
) -> None:
    """Refuse a model folder holding a symlink that leaves it, a special file, or more than the input cap.

    Raises
    ------
    OnnxGateError
        Of type ``error``, naming the first offending entry.
    """
    root = Path(folder)
    text = os.fspath(folder)
    real_root = root.resolve()
    limit = input_limit()
    total = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in [*dirnames, *filenames]:
            entry = Path(dirpath) / name
            rel = entry.relative_to(root).as_posix()
            if entry.is_symlink():
                real = entry.resolve()
                if real != real_root and real_root not in real.parents:
                    raise error(
                        f"{what} {text!r} holds {rel!r}, a symlink to {os.readlink(entry)!r} outside the folder; "
                        "a model folder may only link to files inside itself. Copy the file into the folder",
                        path=text,
                    )
            try:
                st = entry.stat()
            except OSError as err:
                raise error(f"{what} {text!r}: cannot read {rel!r}: {err.strerror}", path=text) from None
            if stat.S_ISDIR(st.st_mode):
                continue
            if not stat.S_ISREG(st.st_mode):
                raise error(
                    f"{what} {text!r} holds {rel!r}, which is {_kind(st.st_mode)}; a model folder may only "
                    "hold regular files and folders",
                    path=text,
                )
            total += st.st_size
            if total > limit:
                raise error(
                    f"{what} {text!r} holds more than the {_mb(limit)} limit for model files; "
                    + _limit_hint(INPUT_LIMIT_ENV),
                    path=text,
                )


_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _looks_like_hdf5(path: str, member: str) -> bool:
    """The HDF5 signature at offset 0, 512, 1024 or 2048 (after a user block), reading 2 KB at most."""
    try:
        with zipfile.ZipFile(path) as archive, archive.open(member) as handle:
            head = handle.read(2048 + len(_HDF5_SIGNATURE))
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, RuntimeError):
        return False
    return _hdf5_head(head)


def _hdf5_head(head: bytes) -> bool:
    return any(head[at : at + len(_HDF5_SIGNATURE)] == _HDF5_SIGNATURE for at in (0, 512, 1024, 2048))


def is_hdf5_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` starts like an HDF5 file (its signature at offset 0, 512, 1024 or 2048), reading 2 KB."""
    try:
        with open(path, "rb") as handle:
            return _hdf5_head(handle.read(2048 + len(_HDF5_SIGNATURE)))
    except OSError:
        return False


#: Members that tell which framework wrote a zip archive given under another suffix, for messages.
_ARCHIVE_MARKS = (("config.json", "a Keras .keras file"), ("schema.json", "a skops file (scikit-learn's .skops)"),
                  ("data.pkl", "a PyTorch archive (.pt or .pt2)"), ("archive_format", "a PyTorch archive (.pt2)"))


def describe_content(path: str | os.PathLike[str]) -> str:
    """What the file at ``path`` holds, as a message's "found ...": ``"an empty file (0 bytes)"``, ``"a zip
    archive of 1 member (hello.txt)"``, ``"an HDF5 file of 2,048 bytes"``, ``"an ONNX model"``, or its size and
    first bytes. For a model file that is not what its suffix says (helper-292: a ``.keras`` zip of something
    else, an empty ``.h5``), read before the framework gives its own words."""
    text = os.fspath(path)
    try:
        size = os.stat(text).st_size
        with open(text, "rb") as handle:
            head = handle.read(2048 + len(_HDF5_SIGNATURE))
    except OSError as err:
        return f"a file that cannot be read ({err.strerror or err})"
    if size == 0:
        return "an empty file (0 bytes)"
    if zipfile.is_zipfile(text):
        try:
            with zipfile.ZipFile(text) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError, ValueError):
            names = []
        kind = next((what for mark, what in _ARCHIVE_MARKS
                     if any(PurePosixPath(n).name == mark for n in names)), None)
        listed = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        plural = "" if len(names) == 1 else "s"
        found = f"a zip archive of {len(names)} member{plural} ({listed})"
        return f"{found}, which looks like {kind}" if kind else found
    if _hdf5_head(head):
        return f"an HDF5 file of {size:,} bytes"
    if head[:1] == b"\x08":  # onnx.save writes ir_version (field 1, a varint) first
        from onnxgate._onnx import load_model
        from onnxgate.errors import InvalidModelError

        try:
            load_model(text, load_external=False)
            return "an ONNX model (onnxgate validate and package read it as it is)"
        except InvalidModelError:
            pass
    return f"{size:,} bytes starting {head[:12]!r}"


def check_zip_archive(
    path: str | os.PathLike[str],
    *,
    what: str,
    error: type[OnnxGateError],
) -> None:
    """Refuse a zip archive whose members would leave its folder, link elsewhere, or expand without bound.

    Only the central directory is read (names, sizes, attributes); no member is extracted.

    Raises
    ------
    OnnxGateError
        Of type ``error``, naming the first offending member.
    """
    text = os.fspath(path)
    limit = input_limit()
    small = config_limit()
    try:
        with zipfile.ZipFile(text) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise error(f"{what} {text!r} is not a readable zip archive: {err}", path=text) from None
    total = 0
    for member in members:
        name = member.filename
        parts = PurePosixPath(name.replace("\\", "/")).parts
        if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
            raise error(
                f"{what} {text!r} holds a member named {name!r}, which points outside the archive "
                "(absolute or with '..'); this is not a file a framework writes. Save the model again",
                path=text,
            )
        if stat.S_ISLNK(member.external_attr >> 16):
            raise error(
                f"{what} {text!r} holds {name!r}, a symlink member; an archived model may not link to "
                "other files. Save the model again",
                path=text,
            )
        size = member.file_size
        base = PurePosixPath(name).name
        if base in _CONFIG_MEMBERS and size > small:
            raise error(
                f"{what} {text!r}: member {name!r} is {_mb(size)}, above the {_mb(small)} limit for "
                "descriptions; " + _limit_hint(CONFIG_LIMIT_ENV),
                path=text,
            )
        if size > _RATIO_FLOOR and size > MAX_COMPRESSION_RATIO * max(member.compress_size, 1):
            raise error(
                f"{what} {text!r}: member {name!r} expands from {_mb(member.compress_size)} to {_mb(size)} "
                f"(over {MAX_COMPRESSION_RATIO} times); real model files do not compress like that, so it "
                "is refused as a zip bomb",
                path=text,
            )
        if base.endswith(".h5") and not _looks_like_hdf5(text, name):
            raise error(
                f"{what} {text!r}: member {name!r} ({_mb(size)}) is not an HDF5 file (no HDF5 signature); "
                "it is not weights a framework wrote. Save the model again",
                path=text,
            )
        total += size
        if total > limit:
            raise error(
                f"{what} {text!r} expands to more than the {_mb(limit)} limit for model files; "
                + _limit_hint(INPUT_LIMIT_ENV),
                path=text,
            )


def occupied(path: str | os.PathLike[str]) -> bool:
    """Whether something is at ``path``: a file, a folder, or a symbolic link, even one whose target is missing
    (``Path.exists`` says False for that link, and an output written there replaced the user's link with a file
    without ``--force``)."""
    return os.path.lexists(path)


def describe_unreachable(path: str | os.PathLike[str], what: str, err: OSError | None = None) -> str:
    """Why ``path`` (a ``what``: "model file", "data file") cannot be opened, and how to fix it, in one sentence.

    ``err`` is the error met opening it; without one, the path is ``stat``-ed here. A symbolic link that loops
    (``a -> b -> a``) was "model file not found" (``Path.exists`` says False) or "Too many levels of symbolic
    links" with no fix; a link to nothing was "not found", where ``ls`` shows the link (helper-364).
    """
    text = os.fspath(path)
    if err is None:
        try:
            os.stat(text)
        except OSError as found:
            err = found
    code = err.errno if err is not None else None
    if code == errno.ELOOP:
        return (f"{what} {text!r} is a symbolic link that loops (it leads back to itself, or through more than 40 "
                "links): point it at the real path with 'ln -sfn REAL_PATH LINK', or give that path")
    if code == errno.ENOENT:
        pointing = dangling_link(text)
        if pointing is not None:
            return (f"{what} {text!r} is a symbolic link to {pointing!r}, which does not exist: point it at the real "
                    "file with 'ln -sfn REAL_PATH LINK', or give the real path")
        where = "" if os.path.isabs(text) else f" (relative to the working folder {os.getcwd()!r})"
        return f"{what} not found: {text!r}{where}. Check the path"
    if code in (errno.EACCES, errno.EPERM):
        return (f"cannot read {what} {text!r}: permission denied. Check its permissions and its folders' "
                "('ls -ld'), or copy it somewhere you may read it")
    if code == errno.ENOTDIR:
        return (f"cannot read {what} {text!r}: a part of the path before the last is a file, not a folder. Check "
                "the path")
    if code == errno.ENAMETOOLONG:
        return f"cannot read {what} {text!r}: the path is too long for the system. Give a shorter path"
    reason = (err.strerror or str(err)) if err is not None else "it cannot be opened"
    return (f"cannot read {what} {text!r}: {reason}. Check that the path exists and that you may read it "
            "(copy it to a local disk if it lives on a network mount)")


def link_note(path: str | os.PathLike[str], *, folder: bool = False) -> str:
    """What an output path refused as existing is when it is a symbolic link, to follow its name in the message;
    ``""`` when it is not one. ``folder``: the output written is a folder (a package), not a file.

    Writing with --force (``overwrite=True``) writes where the link points and keeps the link, as ``> link`` and
    ``cp x link`` do; a refusal naming only the link left the user to find out which file, elsewhere, --force would
    overwrite. A link to nothing says so, as ``ls`` shows nothing there to open. A link to a folder where a file is
    written (or to a pipe or device), or to a file where a folder is, is named without that promise: --force refuses
    it too, saying why.

    Examples
    --------
    >>> link_note("out.onnx")  # doctest: +SKIP
    " (a symbolic link to '../models/x.onnx': --force would overwrite '/home/me/models/x.onnx' and keep the link)"
    """
    p = Path(path)
    if not p.is_symlink():
        return ""
    pointing = os.readlink(p)
    if link_loops(p):
        return f" (a symbolic link to {pointing!r}, which leads back to itself)"
    if not p.exists():
        return f" (a symbolic link to {pointing!r}, which does not exist)"
    real = p.resolve()
    if not (real.is_dir() if folder else real.is_file()):
        what = "the folder" if real.is_dir() else "the file" if real.is_file() else "the pipe or device"
        return f" (a symbolic link to {pointing!r}, {what} {str(real)!r})"
    does = "write into" if folder else "overwrite"
    return f" (a symbolic link to {pointing!r}: --force would {does} {str(real)!r} and keep the link)"


def refuse_filled_folder(folder: str | os.PathLike[str], *, overwrite: bool) -> None:
    """Refuse to write a package into ``folder`` when it holds anything and ``overwrite`` is false, naming where a
    symbolic link leads (:func:`link_note`). The one refusal of ``og.package``, each packager and
    ``write_folder_atomically``, which had each written it out.

    Raises
    ------
    OutputExistsError
        ``folder`` is a folder (or a link to one) that is not empty, and ``overwrite`` is false.
    """
    path = Path(folder)
    if not overwrite and path.is_dir() and any(path.iterdir()):
        raise OutputExistsError(
            f"{str(path)!r}{link_note(path, folder=True)} is not empty; refusing to write into it. Pass "
            "overwrite=True (CLI: --force) or choose a new folder.",
            path=str(path),
        )


def refuse_dangling_folder_link(folder: str | os.PathLike[str]) -> None:
    """Refuse to write a folder at ``folder`` when it is a symbolic link to nothing: a folder cannot be made through
    it (``mkdir`` says "File exists"), and package's staging folder, renamed onto the link, named itself: "cannot use
    '.out.<pid>.partial/out': Not a directory". A link that loops is :func:`link_loop_refusal`'s.

    Raises
    ------
    OutputExistsError
        ``folder`` is a symbolic link to nothing.
    """
    import shlex

    if dangling_link(folder) is None or link_loops(folder):
        return
    path = Path(folder)
    raise OutputExistsError(
        f"{str(path)!r}{link_note(path, folder=True)}: a folder cannot be written through it; create the folder it "
        f"leads to (mkdir -p {shlex.quote(str(path.resolve()))}) or remove the link (rm {shlex.quote(str(path))})",
        path=str(path),
    )


def link_loops(path: str | os.PathLike[str]) -> bool:
    """``path`` is a symbolic link that loops (back to itself, or through more than 40 links)."""
    try:
        os.stat(path)
    except OSError as err:
        return err.errno == errno.ELOOP
    return False


def link_loop_refusal(path: str | os.PathLike[str], *, folder: bool = False, flag: str = "") -> str | None:
    """Why an output cannot be written at ``path``, when it, or a folder on its way, is a symbolic link that loops
    (``ln -s a b; ln -s b a``); None when none does. ``folder``: the output written is a folder. ``flag``: the option
    that named ``path`` (``"--json"``), to begin the message with.

    Every writer meets the loop differently: ``Path.resolve`` raised "RuntimeError: Symlink loop" (an unexpected
    error to the CLI: validate's reports, score --out), ``mkdir`` "File exists" (zoo export), a staging folder "Not a
    directory" (package), and "exists; pass --force" was no fix (--force cannot write through a loop either).

    Examples
    --------
    >>> link_loop_refusal("out", flag="--json")  # doctest: +SKIP
    "--json 'out' is a symbolic link that leads back to itself (to 'b'); remove it (rm out) or point it at a file: ln
    -sfn TARGET out"
    """
    import shlex

    if not link_loops(path):
        return None
    given = Path(path)
    loop = next(p for p in [*reversed(given.parents), given] if link_loops(p))
    shown = f"{flag} {str(given)!r}".lstrip()
    kind = "folder" if folder or loop != given else "file"
    link = shlex.quote(str(loop))
    where = f"{shown}" if loop == given else f"{shown}: {str(loop)!r}"
    return (f"{where} is a symbolic link that leads back to itself (to {os.readlink(loop)!r}); remove it (rm {link}) "
            f"or point it at a {kind}: ln -sfn TARGET {link}")


def dangling_link(path: str | os.PathLike[str]) -> str | None:
    """Where ``path`` points when it is a symbolic link to nothing, else None; for messages."""
    p = Path(path)
    return os.readlink(p) if p.is_symlink() and not p.exists() else None
