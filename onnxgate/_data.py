"""Turning user data (arrays, DataFrames, dicts, files) into ONNX feeds, and reading data files.

Every conversion is checked against the model's :class:`Signature` and fails with
:class:`InvalidDataError` naming the input or column at fault.
"""

from __future__ import annotations

import math
import numbers
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onnxgate.errors import InvalidDataError, missing_dependency

if TYPE_CHECKING:
    import numpy as np

    from onnxgate.columns import ColumnMap
    from onnxgate.signature import Signature, TensorSpec

__all__ = ["DATA_SUFFIXES", "as_feeds", "as_float64", "from_polars", "is_dataframe", "iter_batches", "load_data",
           "num_rows", "one_row", "read_rows", "slice_feeds"]

DATA_SUFFIXES = (".csv", ".parquet", ".npy")
Feeds = dict[str, "np.ndarray"]


def is_dataframe(data: Any) -> bool:
    """True for a pandas DataFrame, checked without importing pandas."""
    return any(
        (k.__module__ == "pandas" or k.__module__.startswith("pandas.")) and k.__name__ == "DataFrame"
        for k in type(data).__mro__
    )


def from_polars(data: Any) -> Any:
    """A polars DataFrame as the pandas one its Parquet file reads as (:func:`load_data`): the same column names
    and order, String as text, Categorical and Enum as category, a null of numbers or categories as NaN, and of
    text or booleans as None (as scikit-learn reads a polars frame); anything else as it is.
    Called where a sample or data enters (convert, validate, the testing helpers, package), so a polars frame is
    read as that pandas frame: read as an array, it converted by position (its column names and order lost) and
    a frame with a text column was refused by skl2onnx (helper-149).

    A SciPy sparse matrix or array enters there too, as its dense array, which an ONNX input holds: as itself,
    a sample was refused as "found shape []" and parity failed with "sparse array length is ambiguous (please
    report it)" on data LogisticRegression.predict takes (helper-218).

    Raises
    ------
    InvalidDataError
        A polars LazyFrame (rows not computed yet).
    """
    sparse = sys.modules.get("scipy.sparse")  # not imported: the data cannot be one of its matrices
    if sparse is not None and sparse.issparse(data):
        return data.toarray()
    kinds = {k.__name__ for k in type(data).__mro__ if k.__module__.split(".")[0] == "polars"}
    if "LazyFrame" in kinds:
        raise InvalidDataError("the data is a polars LazyFrame, whose rows are not computed yet: pass "
                               "frame.collect() (a polars DataFrame)")
    if "DataFrame" not in kinds:
        return data
    try:
        frame = data.to_pandas()
    except ImportError as err:  # polars reads through pyarrow into pandas
        raise missing_dependency(err.name or "pyarrow", "data", "reading a polars DataFrame") from err
    category_nulls = []
    for name, column in data.to_dict().items():
        if column.null_count() and str(column.dtype) in ("String", "Boolean"):
            # scikit-learn reads a polars null of text as None, a category of its own for an encoder and not
            # missing to an imputer; pandas' NaN would be both (a category column keeps its type: NaN)
            frame[name] = column.to_pandas().astype(object).where(column.is_not_null().to_numpy(), None)
        elif column.null_count() and (str(column.dtype).startswith(("Categorical", "Enum"))):
            category_nulls.append(str(name))
    if category_nulls:
        # a category column's null stays NaN (XGBoost, LightGBM read it as missing), but scikit-learn reads it as
        # None: as_feeds feeds it so to an input whose model learnt None as a category (TensorSpec.missing_only)
        frame.attrs[POLARS_CATEGORY_NULLS] = _Shared(category_nulls)
    return frame


class _Shared(tuple):  # type: ignore[type-arg]
    """Names kept in a frame's ``attrs``, which pandas deep-copies into every column or frame taken from it:
    copied as themselves, a frame of thousands of such columns no longer pays for the list once per column."""

    def __deepcopy__(self, memo: Any) -> _Shared:
        return self


def read_rows(data: Any) -> Any:
    """The rows ``data`` gives: a path (a data file or a folder of Parquet files) read by :func:`load_data`,
    anything else through :func:`from_polars` (a polars DataFrame as its pandas one). Where a check or a dry
    run takes a path or rows, one rule for both."""
    if isinstance(data, (str, os.PathLike)):
        return load_data(data)
    import numpy as np

    if isinstance(data, (numbers.Number, np.generic)):  # data=3 failed inside parity: "int has no len()"
        raise InvalidDataError(
            f"the data is a single value, {data!r}; expected rows: an array of shape (n_rows, n_features), a "
            "DataFrame, a dict of arrays by input name, or a data file's path"
        )
    return from_polars(data)


#: ``DataFrame.attrs`` key of the columns that were polars Categorical or Enum columns holding nulls (NaN now).
POLARS_CATEGORY_NULLS = "onnxgate.polars_category_nulls"


def _polars_category_nulls_as_none(data: Any, signature: Signature) -> Any:
    """``data`` with the NaN of its former polars category columns (:func:`from_polars`) as None where the input
    they feed reads None as a category of its own (``missing_only == "none"``: a HistGradientBoosting or encoder
    that learnt None): scikit-learn reads the polars null as None, and the file was fed NaN, refused as missing
    (helper-150)."""
    attrs = getattr(data, "attrs", None)
    columns = attrs.get(POLARS_CATEGORY_NULLS) if isinstance(attrs, dict) else None
    if not columns or not is_dataframe(data):
        return data
    # pandas deep-copies attrs into each frame or column taken from this one: kept, the list of columns was copied
    # for each column read here and in as_feeds (3.6 s to feed 1,000 polars Categorical columns with nulls)
    data = data.copy(deep=False)
    data.attrs = {k: v for k, v in (attrs or {}).items() if k != POLARS_CATEGORY_NULLS}
    colmap = signature.columns
    reads_none = {s.name for s in signature.inputs if s.missing_only == "none"}
    have = set(map(str, data.columns))
    change = [c for c in columns if c in have and colmap.input_for(c) in reads_none]
    if not change:
        return data
    data = data.copy()
    for c in change:
        data[c] = data[c].astype(object).where(data[c].notna(), None)
    return data


def parquet_category_nulls(frame: Any) -> Any:
    """``frame``, read from Parquet by pandas, with its category columns holding nulls (NaN in pandas) named as a
    polars frame's are (:data:`POLARS_CATEGORY_NULLS`): a Parquet null is neither NaN nor None, and read by
    polars, as a model fitted on that file was, scikit-learn sees None. Fed to an input whose model learnt None
    as a category it is None again; the file's own rows were refused as missing (helper-164)."""
    import pandas as pd

    columns = [str(c) for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)
               and bool(frame[c].isna().any())]
    if columns:
        frame.attrs[POLARS_CATEGORY_NULLS] = _Shared(columns)
    return frame


def _parquet_folder(folder: Path) -> Any:
    """A folder of Parquet files (as ``onnxgate score`` and Spark read them) as one DataFrame, the files'
    rows in the order of their names; refused unless every file holds the same columns of the same types."""
    files = _parquet_files(folder)
    import pandas as pd

    # a file of no rows holds its schema, as Spark and score read it (validate alone refused such a folder;
    # helper-90); a folder of no rows at all is refused as an empty file is
    frames = [load_data(f, allow_empty=True) for f in files]
    _refuse_other_columns(folder, files, [dict(frame.dtypes.items()) for frame in frames])
    if not any(len(frame) for frame in frames):
        raise InvalidDataError(_NO_ROWS_IN_FOLDER.format(folder=str(folder)), path=str(folder))
    return parquet_category_nulls(pd.concat(frames, ignore_index=True)) if len(frames) > 1 else frames[0]


def _folder_entries(folder: Path) -> list[Path]:
    """A data folder's entries by name, but those Spark and pyarrow skip (hidden ``.x``, ``_SUCCESS``, ``_x``)."""
    return sorted(f for f in folder.iterdir() if not f.name.startswith((".", "_")))


def _parquet_files(folder: Path) -> list[Path]:
    """A data folder's Parquet files by name; refused when it holds none, or anything else."""
    files = _folder_entries(folder)
    if not files:
        raise InvalidDataError(f"no Parquet files in {str(folder)!r}: a data folder holds .parquet files (as Spark "
                               "writes them); give a .csv, .parquet or .npy file, or a folder holding .parquet files",
                               path=str(folder))
    other = [f.name for f in files if f.suffix.lower() != ".parquet" or not f.is_file()]
    if other:
        raise InvalidDataError(f"the folder {str(folder)!r} holds {other[:3]}, which are not Parquet files: a data "
                               "folder holds .parquet files only", path=str(folder))
    return files


#: An export with a filter that matched nothing writes these; the fix is the rows (helper-364: no fix was given).
_NO_ROWS_IN_FOLDER = ("the data folder {folder!r} has a header but no rows in any file: expected at least one row; "
                      "export the rows again (a filter that matched none writes only the header)")
_NO_ROWS_IN_FILE = ("data file {file!r} has a header but no rows: expected at least one row; export the rows again "
                    "(a filter that matched none writes only the header)")


def _refuse_other_columns(folder: Path, files: Sequence[Path], dtypes: Sequence[Mapping[str, Any]]) -> None:
    """Refuse a folder whose files (``files``, their pandas ``dtypes`` by column) do not all hold the first
    file's columns of the first file's types."""
    first = dtypes[0]
    for f, types in zip(files[1:], dtypes[1:]):
        if types != first:
            differ = next(c for c in [*first, *types] if str(first.get(c)) != str(types.get(c)))
            here, there = (str(kinds[differ]) if differ in kinds else "missing" for kinds in (types, first))
            raise InvalidDataError(
                f"{f.name!r} in {str(folder)!r} holds other columns or types than {files[0].name!r}: column "
                f"{str(differ)!r} is {here} there and {there} in {files[0].name!r}; every file of a data folder "
                "holds the same columns of the same types",
                path=str(f),
            )


def check_parquet_data(path: str | os.PathLike[str]) -> None:
    """Refuse, from the files' footers alone, the local Parquet file or folder :func:`load_data` refuses for its
    files and rows: a folder holding other files or no ``.parquet`` file, files whose columns or types differ
    (each read as pandas reads it: its column types with no rows), or no rows at all; with its messages. For
    Spark parity, whose readers take one file's columns and give a column another file lacks as nulls: a
    folder whose second file lacked a feature passed with that feature scored as NaN, where ``validate`` on
    one machine refused it (helper-268). Anything else (a URL, a file that is not Parquet) is left to the reader.

    Raises
    ------
    InvalidDataError
        As :func:`load_data` would, without reading a row.
    """
    import pyarrow.parquet as pq

    text = os.fspath(path)
    root = Path(text)
    if "://" in text or not root.exists():
        return
    if root.is_file():
        if root.suffix.lower() != ".parquet":
            return
        try:
            rows = pq.ParquetFile(root).metadata.num_rows
        except Exception:
            return  # the reader says what is wrong with it
        if rows == 0:
            raise InvalidDataError(_NO_ROWS_IN_FILE.format(file=text), path=text)
        return
    if any(f.is_dir() and "=" in f.name for f in _folder_entries(root)):
        return  # partition folders key=value/: Spark reads them as columns
    files = _parquet_files(root)
    dtypes, rows = [], 0
    for f in files:
        try:
            handle = pq.ParquetFile(f)
            dtypes.append(dict(handle.schema_arrow.empty_table().to_pandas().dtypes.items()))
        except Exception:
            return  # the reader says what is wrong with it
        rows += handle.metadata.num_rows
    _refuse_other_columns(root, files, dtypes)
    if rows == 0:
        raise InvalidDataError(_NO_ROWS_IN_FOLDER.format(folder=text), path=text)


def load_data(path: str | os.PathLike[str], *, allow_empty: bool = False) -> Any:
    """Read a data file: ``.csv`` or ``.parquet`` as a DataFrame, ``.npy`` as an array; a folder of
    ``.parquet`` files as one DataFrame (:func:`_parquet_folder`). ``allow_empty``: a file of no rows is
    read (a folder's file), not refused.

    Raises
    ------
    InvalidDataError
        Missing, empty, unreadable or non-UTF-8 file, or an unsupported suffix.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if p.is_dir():
        return _parquet_folder(p)
    if suffix not in DATA_SUFFIXES:
        model = p.suffix.lower() in (".onnx", ".skops", ".pkl", ".joblib", ".pt", ".pt2", ".keras", ".h5")
        fix = ("it is a model file, not rows: give the model as MODEL (or --reference), and the rows here" if model else
               "name the file after its format (rows.csv for comma-separated text), or save the rows as one of those "
               "(DataFrame.to_parquet, numpy.save)")
        raise InvalidDataError(
            f"expected a data file ending in one of {list(DATA_SUFFIXES)}, found {str(p)!r}; {fix}",
            path=str(p),
        )
    from onnxgate._files import check_regular_file

    if check_regular_file(p, what="data file", error=InvalidDataError) == 0:
        expected = {".csv": "a header and rows", ".npy": "an array saved with numpy.save"}.get(suffix, "Parquet rows")
        raise InvalidDataError(f"data file {str(p)!r} is empty (0 bytes): expected {expected}. Write the rows to it "
                               "again (an export or copy cut short leaves an empty file), or give another file",
                               path=str(p))
    if suffix == ".npy":
        import numpy as np

        with open(p, "rb") as head:
            if head.read(6) != b"\x93NUMPY":  # numpy.save's magic string; np.load calls anything else pickle
                raise InvalidDataError(
                    f"data file {str(p)!r} is not a .npy file (it does not start with NumPy's magic string): "
                    "save the array with numpy.save, or give a .csv or .parquet file",
                    path=str(p),
                )
        try:
            array = np.load(p, allow_pickle=False)
        except ValueError as err:
            if "pickle" not in str(err):
                raise InvalidDataError(f"cannot read {str(p)!r} as .npy: {err}; {_NPY_DAMAGED}", path=str(p)) from err
            raise InvalidDataError(
                f"data file {str(p)!r} holds an object array, not a plain numeric one; object arrays are "
                "refused because loading them runs code: save a numeric array (array.astype(float)), or text as "
                "fixed-width strings (array.astype(str)), which load without running code",
                path=str(p),
            ) from err
        except Exception as err:
            raise InvalidDataError(f"cannot read {str(p)!r} as .npy: {err}; {_NPY_DAMAGED}", path=str(p)) from err
        _check_npy(array, str(p))
        return array
    try:
        import pandas as pd
    except ImportError as err:
        raise missing_dependency("pandas", "data", f"reading {suffix} files") from err
    try:
        if suffix == ".csv":
            frame = pd.read_csv(p, encoding="utf-8", encoding_errors="strict")
            if len(frame.columns) and all(_is_number(c) for c in frame.columns):
                # every "name" is a number: the file has no header, and its first row is data
                frame = pd.read_csv(p, encoding="utf-8", encoding_errors="strict", header=None)
        else:
            frame = _note_map_types(p, parquet_category_nulls(pd.read_parquet(p)))
    except UnicodeDecodeError as err:
        offset, reason = _first_bad_utf8(p, err)
        raise InvalidDataError(
            f"data file {str(p)!r} is not UTF-8 (byte {offset}: {reason}); save it as UTF-8",
            path=str(p),
        ) from err
    except Exception as err:
        if suffix == ".parquet":
            _refuse_unreadable_parquet(p, err)
        if suffix == ".csv" and isinstance(err, pd.errors.ParserError):
            raise InvalidDataError(_csv_parse_message(p, err), path=str(p)) from err
        raise InvalidDataError(f"cannot read {str(p)!r}: {err}", path=str(p)) from err
    if frame.shape[0] == 0 and not allow_empty:
        raise InvalidDataError(_NO_ROWS_IN_FILE.format(file=str(p)), path=str(p))
    if suffix == ".csv":
        _refuse_repeated_header(p)
    return frame


def _csv_parse_message(path: Path, err: Exception) -> str:
    """pandas' tokenizer error in onnxgate's words: "cannot read 'r.csv': Error tokenizing data. C error: Expected 6
    fields in line 5, saw 8" named neither the fix nor, for a quote never closed, the line (pandas counts that one's
    rows from 0)."""
    import re

    text = str(err)
    fields = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text)
    if fields:
        header, line, found = fields.groups()
        line = _first_long_line(path, int(header)) or line  # pandas counts records: a quoted line break shifts it
        return (f"data file {str(path)!r} is not CSV as read here: line {line} has {found} fields where the header "
                f"has {header}; expected one field per header column on every line. Quote a field that holds a comma "
                f"(\"1,5\"), or fix line {line}")
    quote = re.search(r"EOF inside string starting at row (\d+)", text)
    if quote:
        line = int(quote.group(1)) + 1
        return (f"data file {str(path)!r} is not CSV as read here: the quoted field that starts on line {line} is "
                "never closed (the file ends inside it); expected a closing double quote. Close the quote, or double "
                f"a quote inside a quoted field (\"\")")
    detail = text.split("C error: ", 1)[-1].strip()
    return (f"data file {str(path)!r} is not CSV as read here ({detail}); expected comma-separated lines under a "
            "header line. Fix the file, or write it again with pandas' DataFrame.to_csv")


def _first_long_line(path: Path, fields: int) -> str | None:
    """The line of ``path`` (from 1) that ends the first CSV record holding more than ``fields`` fields, or None."""
    import csv

    try:
        with open(path, encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            for record in reader:
                if len(record) > fields:
                    return str(reader.line_num)
    except (OSError, UnicodeDecodeError, csv.Error):
        pass
    return None


def _refuse_unreadable_parquet(path: Path, err: Exception) -> None:
    """Say in onnxgate's words why pandas could not read a .parquet file, where pyarrow's words name no fix: a
    column named twice was "cannot read 'r.parquet': Multiple matches for FieldRef.Name(f0) in f0: float f0: float
    ... __fragment_index: int32 __batch_index: int32 ...", and a CSV file named .parquet "Parquet magic bytes not
    found in footer" (as score says it since 34b1c59). Anything else is left to the caller's message."""
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
    except Exception:
        names = None
    if names is not None:
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise InvalidDataError(
                f"{str(path)!r} has several columns named {', '.join(map(repr, repeated))}; every column needs a "
                "name of its own: rename or drop the repeated ones when writing the file",
                path=str(path), column=repeated[0],
            ) from err
        return
    with open(path, "rb") as handle:
        head = handle.read(4096)
    fix = "expected a Parquet file (pandas' to_parquet, pyarrow or Spark write one)"
    try:
        text = b"\0" not in head and bool(head.decode("utf-8").strip())
    except UnicodeDecodeError:
        text = False
    if text:  # a CSV (or other text) file under a .parquet name
        fix += (f"; this one holds text: if it is CSV, name it {str(path.with_suffix('.csv'))!r}, or write it as "
                f"Parquet (pandas.read_csv({str(path)!r}).to_parquet(...))")
    raise InvalidDataError(f"cannot read {str(path)!r} as Parquet ({err}); {fix}", path=str(path)) from err


def _refuse_repeated_header(path: Path) -> None:
    """Refuse a CSV header naming a column twice: pandas renames the second ``alcohol.1``, and a reader
    picking columns by name (the dry run) took the first silently (helper-72)."""
    import csv

    with open(path, encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle), [])
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated and not all(_is_number(name) for name in header):
        raise InvalidDataError(
            f"data file {str(path)!r} names the column(s) {repeated} more than once in its header; name each "
            "column once",
            path=str(path),
        )


def _first_bad_utf8(path: Path, err: UnicodeDecodeError) -> tuple[int, str]:
    """The file offset of the first byte that is not UTF-8, and why; pandas decodes in chunks, and its error's
    offset counts from the chunk's start (byte 1 was said for byte 151; helper-95)."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                pending = len(decoder.getstate()[0])  # a character split across chunks, counted already
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as found:
                    return offset - pending + found.start, found.reason
                offset += len(chunk)
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(b"", final=True)  # a character cut off by the end of the file
            except UnicodeDecodeError as found:
                return offset - pending + found.start, found.reason
    except OSError:
        pass
    return err.start, err.reason


def _check_npy(array: np.ndarray, path: str) -> None:
    """Refuse what an ONNX input cannot hold, instead of casting it or failing deep inside a check."""
    if array.dtype.names is not None:
        raise InvalidDataError(
            f"data file {path!r} holds a structured array (fields {list(array.dtype.names)}); expected a plain "
            "numeric array with one column per feature. Save it as a .csv or .parquet with named columns, "
            "or as np.column_stack of its fields",
            path=path,
        )
    if array.ndim == 0:
        raise InvalidDataError(
            f"data file {path!r} holds a single value (a 0-d array); expected rows, e.g. shape (n_rows, "
            "n_features). Save np.atleast_2d(value)",
            path=path,
        )
    kind = array.dtype.kind
    if kind == "c":
        raise InvalidDataError(
            f"data file {path!r} holds complex numbers ({array.dtype}); ONNX models here take real numbers, "
            "and dropping the imaginary part would change the data. Save the real part (or both parts as "
            "separate columns)",
            path=path,
        )
    if kind not in "biufUS":
        raise InvalidDataError(
            f"data file {path!r} holds {array.dtype} values; expected numbers, booleans or text",
            path=path,
        )
    if array.size == 0:
        raise InvalidDataError(f"data file {path!r} holds no values (shape {list(array.shape)}): expected at least "
                               "one row; save the rows again (numpy.save(PATH, X) with X holding them)", path=path)


_NPY_DAMAGED = "the file is cut short or damaged: write it again with numpy.save(PATH, X)"


def _is_number(label: Any) -> bool:
    try:
        float(str(label))
    except ValueError:
        return False
    return True


def is_positional(columns: Any) -> bool:
    """Columns that carry no names: integer labels 0..k-1 (a CSV without a header, an array)."""
    labels = [str(c) for c in columns]
    return labels == [str(i) for i in range(len(labels))]


def one_row(sample: Any, width: int | None) -> Any:
    """A sample that is exactly one row's values as that row: a 1-D array (a list, a pandas Series) of ``width``
    values, for a model that takes ``width`` > 1 values per row (``X[0]`` or ``df.iloc[0]`` of a model of 4
    features), as a ``[1, width]`` array. Anything else is returned as given; a 1-D array of another length is a
    column of values, one per row (a LabelEncoder's labels, a text vectorizer's texts, a model of one feature).

    A converter reads its sample this way, and the conversion keeps the sample so read: validate and package read
    the conversion's sample as rows, and read a 1-D array as a column ("expects 4 values per row, the data has 1").
    """
    import numpy as np

    # a pandas Series of the row's values (df.iloc[0]) is one row too
    series = getattr(sample, "ndim", None) == 1 and hasattr(sample, "to_numpy") and not isinstance(sample, np.ndarray)
    if width is None or width < 2 or not (series or isinstance(sample, (np.ndarray, list, tuple))):
        return sample
    try:
        array = sample.to_numpy() if series else np.asarray(sample)
    except ValueError:  # a list of arrays of other lengths: not one row
        return sample
    return array.reshape(1, -1) if array.ndim == 1 and len(array) == width else sample


def num_rows(data: Any) -> int:
    if isinstance(data, Mapping):
        first = next(iter(data.values()))
        return len(first)
    return len(data)


#: How to fix a column of dates, times or durations feeding a number or boolean input (or numbers or text feeding a
#: boolean one), said alike by every command: ``{it}`` is "it" or "them".
RETYPE_FIX = ("cast {it} to the input's type first (dates are not read as numbers, nor numbers or text as booleans, "
              "so as not to guess what the model was fitted on)")
#: How to fix a column of structs (or unions) feeding a number or boolean input.
STRUCT_FIX = ("flatten {it} first: give the number the model reads a column of its own (a field: "
              "pyarrow.compute.struct_field(table[column], 'field'), or frame[column].str.get('field') in pandas)")
#: How to fix a column of maps feeding a number or boolean input: a struct's fix (``struct_field``) fails on a map.
MAP_FIX = ("take the number the model reads out of {it} first, into a column of its own (a key's value: "
           "pyarrow.compute.map_lookup(table[column], 'key', 'first'), or "
           "frame[column].map(lambda pairs: dict(pairs or ()).get('key')) in pandas)")
#: ``DataFrame.attrs`` key of a Parquet file's map columns, ``((column, "map<string, double>"), ...)``, as
#: :func:`load_data` read them: pandas reads a map as lists of (key, value) pairs, which name neither type.
PARQUET_MAP_TYPES = "onnxgate.parquet_map_types"


def map_type_name(arrow_type: Any) -> str:
    """A pyarrow map type as its key and value types, ``map<string, double>``: read from Parquet, its own text
    also names the file's entries group (``map<string, double ('b')>``)."""
    return f"map<{arrow_type.key_type}, {arrow_type.item_type}>"


def _note_map_types(path: Path, frame: Any) -> Any:
    """``frame``, read by pandas from the Parquet file ``path``, with its map columns' types in its ``attrs``
    (:data:`PARQUET_MAP_TYPES`), for :func:`refuse_unnumbered_columns` to name them."""
    import pyarrow.parquet as pq
    import pyarrow.types as pt

    maps = tuple((f.name, map_type_name(f.type)) for f in pq.read_schema(path) if pt.is_map(f.type))
    if maps:
        frame.attrs[PARQUET_MAP_TYPES] = _Shared(maps)
    return frame


def _is_map_value(value: Any) -> bool:
    """Whether ``value`` is a map as pandas reads one from Arrow: a non-empty list of (key, value) pairs."""
    return (isinstance(value, list) and bool(value)
            and all(isinstance(pair, tuple) and len(pair) == 2 for pair in value))


def _pandas_kind(column: Any, name: str) -> tuple[str, str] | None:
    """``("retype" | "struct" | "map", what the column is)`` for a DataFrame column (named ``name`` by the user) no
    number input can read as numbers: dates, times and durations (a timezone-aware one, and a Parquet date or time
    column, are objects to numpy), structs (dicts to pandas) and maps (lists of (key, value) pairs to pandas, typed
    as the Parquet file has them where :func:`load_data` read it); else None. Without it their values reached
    ``float()``, and the refusal said "found text values (... not 'Timestamp')" (or 'dict') of a column holding no
    text, or of a map "found arrays it cannot read as rows of 1 number(s) (could not convert string to float:
    'cm')"."""
    import datetime

    import pandas as pd

    dtype = column.dtype
    if (pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype)
            or isinstance(dtype, (pd.PeriodDtype, pd.IntervalDtype))):
        return "retype", f"is {dtype}"
    if isinstance(dtype, pd.ArrowDtype):
        import pyarrow.types as pt

        if pt.is_map(dtype.pyarrow_dtype):
            return "map", f"is {map_type_name(dtype.pyarrow_dtype)}"
    if getattr(dtype, "kind", "") != "O":
        return None
    # the file's type first: a column of empty or null maps holds no (key, value) pair to recognise, and was read
    # as rows of 0 numbers or as NaN, where score refuses it by that type
    typed = dict(column.attrs.get(PARQUET_MAP_TYPES, ()))
    if name in typed:
        return "map", f"is {typed[name]}"
    for value in column.dropna().iloc[:64]:
        if isinstance(value, Mapping):
            return "struct", "is a struct (dict values)"
        if isinstance(value, (datetime.date, datetime.time, datetime.timedelta)):
            return "retype", f"holds {type(value).__module__}.{type(value).__name__} values"
        if _is_map_value(value):
            return "map", "is a map (lists of (key, value) pairs)"
    return None


def refuse_unnumbered_columns(columns: Sequence[tuple[str, Any, TensorSpec]]) -> None:
    """Refuse the ``columns`` (each a name, a DataFrame column and the input it feeds) that feed a number or boolean
    input and hold dates, times, durations, structs or maps, naming every one with its type and the fix, in the words
    ``onnxgate score`` uses for a Parquet column of such a type (:data:`RETYPE_FIX`, :data:`STRUCT_FIX`,
    :data:`MAP_FIX`). A string input takes any column here.

    Raises
    ------
    InvalidDataError
        At least one such column.
    """
    found: dict[str, list[tuple[str, str, str]]] = {"retype": [], "struct": [], "map": []}
    for name, column, spec in columns:
        kind = _pandas_kind(column, name) if spec.elem_type != "string" and getattr(column, "ndim", 2) == 1 else None
        if kind is not None:
            found[kind[0]].append((name, f"input {spec.name!r} expects {spec.elem_type}; column {name!r} {kind[1]}",
                                   spec.name))
    parts = [f"{'; '.join(text for _, text, _ in faults)}: {fix.format(it='it' if len(faults) == 1 else 'them')}"
             for faults, fix in ((found["retype"], RETYPE_FIX), (found["struct"], STRUCT_FIX), (found["map"], MAP_FIX))
             if faults]
    if parts:
        name, _, fed = (found["retype"] or found["struct"] or found["map"])[0]
        raise InvalidDataError("; ".join(parts), column=name, input=fed)


def _cast(values: Any, spec: TensorSpec, what: str) -> np.ndarray:
    import numpy as np

    array = np.asarray(values)
    dtype = spec.numpy_dtype
    if array.dtype.kind == "c":  # as a .npy file's (_check_npy): the cast below kept the real part without a word
        raise InvalidDataError(
            f"{what} holds complex numbers ({array.dtype}); ONNX models here take real numbers, and dropping the "
            "imaginary part would change the data. Pass the real part (or both parts as separate columns)",
            input=spec.name,
        )
    if spec.elem_type == "string":
        numbers = array.dtype.kind in "iub" or (array.dtype.kind == "f" and not np.isnan(array).all())
        array = array.astype(object)
        if spec.missing is not None:
            # a missing category (None, NaN, pandas' NA) as the text the model reads as missing
            na = pd_na()  # once, not per value
            # an imputer's NaN (or an encoder's): None stays a category it did not see; an encoder's None: NaN does
            nan_only, none_only = spec.missing_only == "nan", spec.missing_only == "none"
            gone = np.fromiter(((not nan_only and (v is None or v is na))
                                or (not none_only and isinstance(v, float) and v != v)
                                for v in array.ravel()), bool, array.size).reshape(array.shape)
            if gone.any():
                array = array.copy()
                array[gone] = spec.missing
                numbers = False
        # pandas reads an empty CSV cell as NaN: onnxruntime would reject it with an opaque error.
        missing = sum(1 for v in array.ravel() if not isinstance(v, str))
        if numbers:
            # never str() them: a CSV reader turned the code '007' into 7, and '7' is another category
            raise InvalidDataError(
                f"{what} holds numbers ({np.asarray(values).dtype}) but input {spec.name!r} is string (the model "
                "was fitted on text, or the file was converted from a sample holding text there: convert it again "
                "from the rows it was fitted on); a CSV reader reads codes such as '007' as the number 7 and cells "
                "such as 'NA' as missing. Keep the column as text: Parquet keeps its type, or read the CSV with "
                f"pandas.read_csv(..., dtype={{{spec.name!r}: str}}, keep_default_na=False)",
                input=spec.name,
            )
        other = [v for v in array.ravel() if not isinstance(v, str)]
        if missing and spec.missing_only == "none" and all(isinstance(v, float) and v != v for v in other):
            # pandas read a null as NaN (a category column), where the model learnt None: to scikit-learn an
            # unknown category, not the learnt one
            raise InvalidDataError(
                f"{what} has {missing} NaN value(s), but the model learnt None (a polars or Parquet null) as a "
                "category of its own, to which NaN is an unknown category: give the rows as the model was fitted "
                "on them (the polars frame, or the Parquet file's path), or the NaN as None if they are that "
                "missing value (column.astype(object).where(column.notna(), None))",
                input=spec.name,
            )
        na = pd_na()
        if missing and spec.missing_only == "nan" and all(v is None or v is na for v in other):
            # the model reads only NaN as missing (an imputer's missing_values=np.nan, an encoder that learnt NaN):
            # None is a value of its own to scikit-learn, and the imputer's fill would score another category
            nas = sum(1 for v in other if v is na)
            if not nas:
                raise InvalidDataError(
                    f"{what} has {missing} None value(s), but the model reads only NaN as missing there (an imputer's "
                    "missing_values=np.nan, or an encoder that learnt NaN): to scikit-learn None is not NaN but a "
                    "value of its own, which an ONNX text input cannot hold, and fed as the missing text those rows "
                    "would score otherwise than in scikit-learn. Write missing text as NaN (column.where("
                    "column.notna(), np.nan), or pandas' str dtype) in these rows and in the rows the model is "
                    "fitted on",
                    input=spec.name,
                )
            # pandas' NA (a 'string' column's missing value, also from a Parquet file whose pandas metadata names
            # that dtype): it was called "None value(s)", and the fix given, column.where(column.notna(), np.nan),
            # writes pd.NA again in a 'string' column. scikit-learn's imputer fails on pd.NA ("boolean value of NA
            # is ambiguous") and its encoder reads it as an unknown category
            nones = f" and {missing - nas} None value(s)" if missing > nas else ""
            # astype('str') is not the fix: pandas 2 writes pd.NA as the text '<NA>'
            raise InvalidDataError(
                f"{what} has {nas} pd.NA value(s) (the missing value of a pandas 'string' column, as pandas also reads "
                f"a Parquet file written from one){nones}, but the model reads only NaN as missing there (an imputer's "
                "missing_values=np.nan, or an encoder that learnt NaN): to scikit-learn pd.NA is not NaN (its "
                "imputer fails on it, its encoder reads it as an unknown category). Make them NaN: "
                "column.astype(object).where(column.notna(), numpy.nan) (then save the file again from that column)",
                input=spec.name,
            )
        if missing:
            raise InvalidDataError(
                f"{what} has {missing} missing or non-text value(s) but input {spec.name!r} is string; "
                "fill them first, a missing value with one that is none of the model's categories (e.g. '' "
                "unless it is one: a category would score as that category), or, where the model imputes missing "
                "text, with what its imputer fills in (convert's warning names it). From a CSV file, empty cells and "
                "text such as 'NA', 'N/A' or 'null' read as missing: if those are values, read the file with "
                "pandas.read_csv(..., keep_default_na=False) or use Parquet",
                input=spec.name,
            )
        return array
    if spec.missing is not None and dtype.kind in "iu" and array.dtype.kind in "fO":
        # a missing category (None, NaN, pandas' NA) as the integer the model reads as none of its categories
        # float32 and float16 NaN too (np.float32 is no Python float: a float32 column's NaN was refused)
        # where the model tells None from NaN (missing_only: an encoded column of booleans learnt one of them),
        # the other is left as it is, refused below, not fed as the learnt category
        nan_only, none_only = spec.missing_only == "nan", spec.missing_only == "none"
        if array.dtype.kind == "f":
            gone = np.isnan(array) if not none_only else np.zeros(array.shape, bool)
        else:
            na = pd_na()
            gone = np.fromiter(((not nan_only and (v is None or v is na))
                                or (not none_only and isinstance(v, (float, np.floating)) and v != v)
                                for v in array.ravel()), bool, array.size).reshape(array.shape)
        if gone.any():
            array = array.copy()
            array[gone] = int(spec.missing)
    # numpy would cast dates silently to nanosecond counts; whether the model was fitted on those only the
    # user knows, so they cast them. Booleans feeding a number input are read as 0/1, as scikit-learn,
    # XGBoost and LightGBM read a boolean column for a number feature (and as onnxgate's SQL adaptation
    # types a boolean column: bigint); a model fitted on a nullable boolean column has a float input that
    # holds NaN for a missing value, and the frame the model was fitted on must validate.
    if array.dtype.kind in "mM":
        raise InvalidDataError(
            f"input {spec.name!r} expects {spec.elem_type}; {what} holds {array.dtype} values: convert them "
            "to numbers first (e.g. seconds since a date), as the model was fitted on",
            input=spec.name,
        )
    if dtype.kind == "b" and array.dtype.kind in "iuf":
        # numpy reads any number but 0 as true (2 and -7 too); 0/1 meaning false/true is the user's to say
        raise InvalidDataError(
            f"input {spec.name!r} expects bool; {what} holds numbers: cast them to booleans first (e.g. "
            "column == 1) if they mean false/true",
            input=spec.name,
        )
    if array.dtype.kind == "O" and dtype.kind in "iu":
        array = _integer_objects(array)
    if array.dtype.kind in "OUS":
        _refuse_text(array, spec, what)
        exact = _text_as_integers(array, dtype, spec, what) if dtype.kind in "iu" else None
        if exact is not None:
            return exact
        try:
            array = as_float64(array)
        except (TypeError, ValueError) as err:
            if (array.dtype.kind == "O" and array.ndim == 2 and array.shape[1] > 1
                    and any(isinstance(v, (list, tuple, np.ndarray)) for v in array.ravel()[:64])):
                # a Parquet list column beside others (an id): "found text values" named no text (helper-106)
                raise InvalidDataError(
                    f"{what} holds arrays (a list column) among other columns for input {spec.name!r} "
                    f"({spec.elem_type}); a column of arrays feeds an input alone: keep only that column, named "
                    f"{spec.name!r}, or give one number column per feature",
                    input=spec.name,
                ) from err
            if array.dtype.kind == "O" and any(isinstance(v, (list, tuple, np.ndarray)) for v in array.ravel()[:64]):
                # a list column of nested or ragged rows: "found text values" named no text
                width = "x".join(map(str, spec.shape[1:])) if spec.shape else "?"
                raise InvalidDataError(
                    f"{what} must be numeric ({spec.elem_type}) for input {spec.name!r}, found arrays it cannot "
                    f"read as rows of {width} number(s) ({err}); give each row the same number of values, as a "
                    "flat list of numbers",
                    input=spec.name,
                ) from err
            raise InvalidDataError(
                f"{what} must be numeric ({spec.elem_type}) for input {spec.name!r}, found text values "
                f"({err}); convert the column to numbers",
                input=spec.name,
            ) from err
    if dtype.kind in "iub" and array.dtype.kind == "f":
        bad = ~np.isfinite(array)
        if bad.any():
            raise InvalidDataError(
                f"{what} has {int(bad.sum())} missing or non-finite value(s) but input {spec.name!r} "
                f"is {spec.elem_type}; fill or drop them first",
                input=spec.name,
            )
        if not np.all(np.floor(array) == array):
            raise InvalidDataError(
                f"{what} has fractional values but input {spec.name!r} is {spec.elem_type}; "
                "round them or feed a float model",
                input=spec.name,
            )
    _check_range(array, dtype, spec, what)
    return np.ascontiguousarray(array.astype(dtype, copy=False))


_NUMERAL = None  # re.Pattern of a plain decimal numeral, compiled on first use
#: Element types of the floating-point inputs (NaN is a value there; booleans are not read as them).
FLOATING = frozenset({"float16", "float32", "float64"})


def _refuse_text(array: np.ndarray, spec: TensorSpec, what: str) -> None:
    """Refuse text that is not a plain decimal numeral (``'5'``, ``' -1.5e3 '``) for a numeric input.

    A database converts such text to the column's number type on insert, so it is read as that number;
    numpy would parse any text with Python's ``float``, which also takes ``'1_065'`` and ``'infinity'``,
    which no database loads as a number. A CSV cell the reader could not read as a number is the usual
    cause.
    """
    global _NUMERAL
    if _NUMERAL is None:
        import re

        _NUMERAL = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*")
    match = _NUMERAL.fullmatch
    for value in array.ravel():
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str) and match(value) is not None and math.isinf(float(value)):
            raise InvalidDataError(  # '1e400' is a numeral, but float64 reads it as infinity
                f"{what} holds text ({value[:40] + '...' if len(value) > 40 else value!r}) beyond the range of "
                f"float64 (it reads as infinity) for input "
                f"{spec.name!r}: a finite number was expected. Fix the cell in the file",
                input=spec.name,
            )
        if isinstance(value, str) and match(value) is None:
            raise InvalidDataError(
                f"{what} holds text ({value!r}) but input {spec.name!r} is {spec.elem_type}: a number was "
                "expected. Convert the column to numbers first (pandas.to_numeric(column, errors='coerce') "
                "turns cells that are not numbers into NaN), or fix the cells in the file",
                input=spec.name,
            )


def _text_as_integers(array: np.ndarray, dtype: np.dtype[Any], spec: TensorSpec, what: str) -> np.ndarray | None:
    """Numerals (all text, checked by :func:`_refuse_text`) read exactly as the integer input's values, or
    None when some cell is not text (a missing value: the float path says so). Through float64, text past
    2**53 rounded: '9007199254740993' scored as ...992 with ``score`` silent (helper-103). Text that is not
    an integer's plain form ('07', '+7', '7.0'; spaces around it are read past, as scikit-learn reads them,
    except for an input that reads categories by their text, :attr:`TensorSpec.category`) is refused for every
    integer input: CatBoost hashes '07' as a category of its own, and the reference, given 7, agreed with the
    file (a false pass, 2 of 569 labels; helper-140)."""
    import decimal

    import numpy as np

    flat = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in array.ravel()]
    if not all(isinstance(v, str) for v in flat):
        return None
    values = [decimal.Decimal(v.strip()) for v in flat]
    fractional = next((v for v in values if v != v.to_integral_value()), None)
    if fractional is not None:
        raise InvalidDataError(
            f"{what} has fractional values (e.g. {str(fractional)!r}) but input {spec.name!r} is {spec.elem_type}; "
            "round them or feed a float model",
            input=spec.name,
        )
    whole = [int(v) for v in values]
    # CatBoost hashes ' 7' as a category other than 7, and the reference, given 7, agreed with the file (helper-145)
    plain = (lambda t: t) if spec.category else str.strip
    odd = next(((t, n) for t, n in zip(flat, whole) if plain(t) != str(n)), None)
    if odd is not None:
        raise InvalidDataError(
            f"{what} holds the text {odd[0]!r} for the {spec.elem_type} input {spec.name!r}, which is not how the "
            f"integer {odd[1]} is written: a model reading the column's text (a CatBoost category, an encoder "
            f"fitted on text) takes {odd[0]!r} for another value than {odd[1]}, so it cannot be read as {odd[1]} "
            "for both. Give the column as integers, or as their plain text",
            input=spec.name,
        )
    info = np.iinfo(dtype)
    out = [v for v in whole if not int(info.min) <= v <= int(info.max)]
    if out:
        raise InvalidDataError(
            f"{what} has {len(out)} value(s) outside the range of {spec.elem_type} (e.g. {_short(out[0])}; "
            f"{spec.elem_type} holds {int(info.min)} to {int(info.max)}) for input {spec.name!r}: they would "
            "become other numbers. Scale or clip them first",
            input=spec.name,
        )
    return np.ascontiguousarray(np.array(whole, dtype=dtype).reshape(array.shape))


def _short(value: int) -> str:
    """An integer as written, or in scientific form past 20 digits ('1e308' has 309)."""
    sign, digits = ("-", str(-value)) if value < 0 else ("", str(value))
    return sign + (digits if len(digits) <= 20 else f"{digits[0]}.{digits[1:6]}e{len(digits) - 1}")


def _integer_objects(array: np.ndarray) -> np.ndarray:
    """An object array holding only integers (Python's, numpy's, booleans) as int64 (uint64 past its top),
    each value kept: read as float64 with the other objects, 9007199254740993 became ...992. Any other
    array (text, a missing value, a float) is returned as it is."""
    import numpy as np

    flat = array.ravel()
    if not flat.size or not all(isinstance(v, (int, np.integer, np.bool_)) for v in flat):
        return array
    values = [int(v) for v in flat]
    low, high = min(values), max(values)
    for kind in (np.int64, np.uint64):
        info = np.iinfo(kind)
        if int(info.min) <= low and high <= int(info.max):
            return np.array(values, dtype=kind).reshape(array.shape)
    return array  # past uint64 too: the float path says they are out of range


def as_float64(array: np.ndarray) -> np.ndarray:
    """``array`` (object or text) as float64; pandas' missing value (``pd.NA``, which a nullable
    ``boolean`` or ``Int64`` column holds) and None read as NaN, as the boosting libraries read them."""
    import numpy as np

    try:
        return array.astype(np.float64)
    except (TypeError, ValueError):
        if array.dtype.kind != "O":
            raise
        flat = [np.nan if v is None or type(v).__name__ == "NAType" else v for v in array.ravel()]
        if flat and all(isinstance(v, (list, tuple, np.ndarray)) for v in flat):
            # a column of arrays (Parquet list<double>: the rows of one [N,k] input), as Spark reads it
            rows = [np.asarray(v, dtype=np.float64) for v in flat]
            if len({r.shape for r in rows}) == 1:
                # one column of a frame ([N,1] of arrays) holds the rows: [N,k]
                outer = array.shape[:-1] if array.ndim > 1 and array.shape[-1] == 1 else array.shape
                return np.stack(rows).reshape(*outer, *rows[0].shape)
            raise TypeError(f"its arrays differ in length ({sorted({len(r) for r in rows})})") from None
        return np.asarray(flat, dtype=object).astype(np.float64).reshape(array.shape)


def _check_range(array: np.ndarray, dtype: np.dtype[Any], spec: TensorSpec, what: str) -> None:
    """Refuse values the input's type cannot hold: numpy would make them inf (floats) or wrap them (ints)."""
    import numpy as np

    if array.dtype.kind not in "iuf" or dtype.kind not in "iuf":
        return
    if dtype.kind == "f":
        limit = float(np.finfo(dtype).max)
        if array.dtype.kind == "f" and float(np.finfo(array.dtype).max) <= limit:
            return
        low, high = -limit, limit
        # what rounds to the largest value is held: below it by half a step ("3.4028235e+38", how numpy
        # writes float32's maximum, is a hair above it in float64); from there on it rounds to infinity
        step = limit - float(np.nextafter(np.asarray(limit, dtype=dtype), np.asarray(0, dtype=dtype)))
        edge = limit + step / 2
    else:
        info = np.iinfo(dtype)
        low, high = int(info.min), int(info.max)
    with np.errstate(invalid="ignore", over="ignore"):
        finite = np.isfinite(array) if array.dtype.kind == "f" else np.ones(array.shape, bool)
        beyond = (array <= -edge) | (array >= edge) if dtype.kind == "f" else (array < low) | (array > high)
        out = finite & beyond
    if out.any():
        first = array[out].ravel()[0].item()
        raise InvalidDataError(
            f"{what} has {int(out.sum())} value(s) outside the range of {spec.elem_type} (e.g. {first!r}; "
            f"{spec.elem_type} holds {low:g} to {high:g}) for input {spec.name!r}: they would become "
            f"{'infinite' if dtype.kind == 'f' else 'other numbers'}. Scale or clip them first",
            input=spec.name,
        )


def _fit_shape(array: np.ndarray, spec: TensorSpec, what: str) -> np.ndarray:
    rank = spec.rank
    if rank is None:
        return array
    if rank == 2 and array.ndim == 1:
        array = array.reshape(-1, 1)
    elif rank == 1 and array.ndim == 2 and array.shape[1] == 1:
        array = array.reshape(-1)
    if rank == 0 and array.ndim != 0:
        # a file made elsewhere (or a tf.TensorSpec([])) whose input takes one value, not rows
        raise InvalidDataError(
            f"input {spec.name!r} is a scalar (shape []): the model takes one value, not rows, and {what} has "
            f"shape {list(array.shape)}. onnxgate scores and compares rows, which needs a batch axis: re-export "
            "the model with a first axis of free size on every input (shape [N]: one value per row)",
            input=spec.name,
        )
    if array.ndim != rank:
        raise InvalidDataError(
            f"input {spec.name!r} expects rank {rank} {spec.shape_str()}, {what} has shape {list(array.shape)}; "
            f"give an array of that shape (numpy.reshape), or the rows the model was converted from",
            input=spec.name,
        )
    assert spec.shape is not None
    for axis, (want, got) in enumerate(zip(spec.shape, array.shape)):
        if axis == 0:
            continue
        if isinstance(want, int) and want != got:
            label = "values per row" if axis == 1 and rank == 2 else f"entries on axis {axis}"
            raise InvalidDataError(
                f"input {spec.name!r} expects {want} {label} {spec.shape_str()}, {what} has {got} "
                f"(shape {list(array.shape)}); give data of {want} {label}, as the model was converted from (a "
                "label or id column left in the rows adds one)",
                input=spec.name,
            )
    return array


def numbers_as_objects(values: Any) -> bool:
    """True for an object column holding only numbers scikit-learn reads as float64, with None, NaN or pandas'
    ``NA`` for a missing value (NaN then): booleans (a polars Boolean column with nulls, as :func:`from_polars`
    and ``to_pandas`` give it: True, False and None), :class:`decimal.Decimal` (a polars Decimal column, a
    Parquet decimal128 one read by :func:`load_data`), integers and floats; at least one not missing. Such a
    column was refused as text ("column(s) ['c'] hold text") where scikit-learn scores it (helper-154). Any
    text (``'5'`` too) makes it not one."""
    import decimal

    import numpy as np

    na = pd_na()
    found = False
    for value in values:
        if value is None or value is na:
            continue
        if not isinstance(value, (bool, int, float, decimal.Decimal, np.bool_, np.integer, np.floating)):
            return False
        found = True
    return found


def nullable_as_numpy(frame: Any) -> Any:
    """``frame`` with pandas' nullable and pyarrow-backed number columns (``Int64``, ``Float64``, ``boolean``,
    ``float64[pyarrow]``...) as numpy ones, as scikit-learn reads them: integers and booleans as float64, floats
    as the float they hold, a missing value (``pd.NA``, an Arrow null) as NaN. Left as they were, ``to_numpy()``
    made an object matrix of a frame holding them, typed as text for a model fitted on an array."""
    import numpy as np

    wanted = {}
    for c in frame.columns:
        numpy = getattr(frame[c].dtype, "numpy_dtype", None)
        if not isinstance(frame[c].dtype, np.dtype) and isinstance(numpy, np.dtype) and numpy.kind in "iufb":
            wanted[c] = numpy if numpy.kind == "f" else np.dtype(np.float64)
    return frame.astype(wanted) if wanted else frame


def pd_na() -> Any:
    """pandas' ``NA`` (a missing value of a nullable or string column), or a stand-in without pandas."""
    try:
        import pandas as pd
    except ImportError:
        return object()
    return pd.NA


def in_another_order(columns: Sequence[str], fitted: Sequence[str] | None) -> bool:
    """True when ``columns`` hold one of the ``fitted`` names (:attr:`TensorSpec.fitted_columns`) at another
    position than the model was fitted on it (:func:`misplaced_column`): the fitted names in another order, or
    some of them moved beside a column the model was not fitted on (a renamed one). A space in a column name may
    stand for the ``_`` LightGBM keeps in its names (it fitted ``sepal length (cm)`` as ``sepal_length_(cm)``,
    the name its file records), as :func:`onnxgate.converters._boosting.same_columns` reads them."""
    return misplaced_column(columns, fitted) is not None


def misplaced_column(columns: Sequence[str], fitted: Sequence[str] | None) -> tuple[int, str, int] | None:
    """The first of ``columns`` (as many as ``fitted``) that is not the fitted name of its position but a fitted
    name of another: ``(its position, its name, the position the model was fitted on it at)``; None when there is
    none. Only whole permutations were refused: iris columns reversed with one renamed (``d, c, b, a2``) fed
    the file by position, 98 of 150 labels unlike the model's, and validate passed (scikit-learn refuses that
    frame, its names not matching; helper-150)."""
    given = [str(c) for c in columns]
    if not fitted or len(given) < 2 or len(given) != len(fitted):
        return None
    where = {str(f): j for j, f in enumerate(fitted)}
    for i, c in enumerate(given):
        forms = (c, c.replace(" ", "_"))
        if str(fitted[i]) in forms:
            continue
        for form in forms:
            j = where.get(form)
            if j is not None and j != i:
                return i, c, j
    return None


#: How many names a message lists before it counts the rest (:func:`shown_names`).
SHOWN_NAMES = 8


def shown_names(names: Sequence[Any], show: Callable[[Any], str] = lambda n: repr(str(n)),
                noun: str = "columns") -> str:
    """``names`` as a message lists them, each as ``show`` writes it (``str(list(names))`` by default): all of
    them up to :data:`SHOWN_NAMES`, else the first ones and the count (of ``noun``): a frame of 3,000 columns in
    another order was refused in a message of 96,000 characters that named each column twice (helper-154)."""
    if len(names) <= SHOWN_NAMES + 2:
        return "[" + ", ".join(show(n) for n in names) + "]"
    first = ", ".join(show(n) for n in names[:SHOWN_NAMES])
    return f"[{first}, ... {len(names) - SHOWN_NAMES:,} more] ({len(names):,} {noun})"


def refuse_shuffled_positions(columns: Sequence[str], spec: TensorSpec) -> None:
    """Refuse columns named as the positions of input ``spec`` (``input_0``, ``input_1``...), as
    ``onnxgate score`` writes them, or as the named columns the model was fitted on
    (:attr:`TensorSpec.fitted_columns`), but not in that order: a frame's columns feed one ``[N,k]`` input
    in the order they come, and reversed ones changed 98 of 150 iris labels with exit 0 (helper-72; for
    the fitted names, from a Parquet file scored with ``onnxgate score``, helper-142).

    Raises
    ------
    InvalidDataError
        The columns are those names, shuffled.
    """
    name = spec.name
    fitted = list(spec.fitted_columns or ())
    misplaced = misplaced_column(columns, fitted)
    if misplaced is not None:
        at, column, fitted_at = misplaced
        same = any(sorted(form) == sorted(fitted) for form in
                   ([str(c) for c in columns], [str(c).replace(" ", "_") for c in columns]))
        where = (f"column {column!r} at position {at}, where the model reads {fitted[at]!r} (it was fitted on "
                 f"{column!r} at position {fitted_at})")
        raise InvalidDataError(
            f"the model was fitted on columns {shown_names(fitted)} and takes them as one input {name!r}, by "
            f"position; the data has {shown_names(columns)}: "
            + (f"the same columns in another order ({where}), which would be scored on the wrong columns. Put them "
               "in that training order first" if same else
               f"{where}, so it would be scored as another column. Pass the fitted columns in that training order"),
            column=column,
        )
    positions = [f"{name}_{i}" for i in range(len(columns))]
    if len(columns) > 1 and list(columns) != positions and sorted(columns) == sorted(positions):
        wrong = next(i for i, (c, p) in enumerate(zip(columns, positions)) if c != p)
        raise InvalidDataError(
            f"the data's columns are named as the positions of input {name!r} ({positions[0]}...{positions[-1]}) "
            f"but are not in that order ({shown_names(columns)}; column {str(columns[wrong])!r} at position {wrong}); "
            "they feed the input in the order they come: put them in order first",
            column=columns[wrong],
        )


def lacking_columns_error(missing: Sequence[str], signature: Signature, given: Sequence[str]) -> InvalidDataError:
    """The refusal of data whose columns ``given`` (as the user named them) lack the inputs ``missing`` of a model
    fed by column name: :func:`as_feeds` and Spark's (:func:`onnxgate.spark.feed_columns`) say it alike."""
    names, colmap = signature.input_names, signature.columns
    return InvalidDataError(
        f"expected a column for each model input {_named(names, colmap)}; the data "
        f"lacks {_named(list(missing), colmap)} (it has {shown_names(given)})"
        + lacking_fix(missing, [colmap.column_for(n) for n in missing], given,
                      [colmap.column_for(n) for n in names]),
        column=colmap.column_for(missing[0]),
    )


def lacking_fix(missing: Sequence[str], columns: Sequence[str], given: Sequence[str], wanted: Sequence[str]) -> str:
    """The end of a message refusing data whose columns ``given`` lack the inputs ``missing`` (``columns``: their
    columns as the user names them; ``wanted``: every input's column, so named): a data column that is a missing
    name with '_' for a space (:func:`_underscored_hint`), or but for case or spaces (:func:`near_names_hint`), or
    close to it ('alcool' for 'alcohol': did you mean), and the fix. ``validate`` and ``sql-dryrun`` said what was
    lacking and what the data had, and left the user to find the fix (helper-358)."""
    import difflib

    hint = _underscored_hint(missing, given) + near_names_hint(list(columns), given)
    if hint:
        return hint
    # the data's columns no input takes: a misspelt name among them is the likeliest cause
    taken = set(wanted)
    unused = [c for c in given if c not in taken]
    close = []
    if len(unused) <= 2000:  # difflib compares each pair: bounded, as a wide file's message must come at once
        for m in list(columns)[:3]:
            found = difflib.get_close_matches(m, unused, n=1, cutoff=0.75)
            if found:
                close.append(f"{m!r} where the data has {found[0]!r}")
    if close:
        return f"; did you mean {', '.join(close)}? Rename the data's column(s) to the model's names"
    return "; add the missing column(s) to the data, or rename the data's column(s) to the model's names"


def extra_columns_error(extra: Sequence[str], signature: Signature) -> InvalidDataError:
    """The refusal of data holding the columns ``extra``, which no input of a model fed by column name takes:
    :func:`as_feeds` and ``sql-dryrun`` say it alike."""
    names = signature.input_names
    return InvalidDataError(
        f"the data has column(s) {shown_names(list(extra))} that are not model inputs "
        f"{_named(names, signature.columns)}; drop them (a label or ID column, for instance) or check their spelling",
        column=extra[0],
    )


def _underscored_hint(missing: Sequence[str], given: Sequence[str]) -> str:
    """A message's hint where the data's columns are the missing names with ``_`` for a space or sign: LightGBM
    writes a feature name's spaces as ``_`` ('mean radius' -> 'mean_radius'), so a model converted from an array
    records those as its columns, and an SQL table named after them could not be fed the user's own frame, whose
    thirty columns the message listed beside thirty others without saying how they differ (helper-157)."""
    import re

    by_form: dict[str, list[str]] = {}
    for c in given:  # one pass over each side: pairing every name with every other took 7 s for 3,000 columns
        by_form.setdefault(re.sub(r"\W", "_", c), []).append(c)
    near = {m: same[-1] for m in missing if (same := [c for c in by_form.get(m, ()) if c != m])}
    if not near:
        return ""
    shown = ", ".join(f"{c!r} -> {m!r}" for m, c in list(near.items())[:3]) + (", ..." if len(near) > 3 else "")
    return (f"; {len(near)} of the data's columns are the model's names with '_' for a space or sign ({shown}), "
            "as LightGBM writes feature names: rename them to the model's names")


def near_names_hint(missing: Sequence[str], given: Sequence[str]) -> str:
    """A message's hint naming the data's columns that are a missing name but for case or surrounding spaces
    (a CSV header 'ALPHA' or ' alpha ' for 'alpha'): the message listed both headers and left the user to spot
    the difference. They are not taken for the model's names: a model may tell 'Age' from 'age'."""
    by_form: dict[str, list[str]] = {}
    for c in given:
        by_form.setdefault(c.strip().casefold(), []).append(c)
    said = []
    for m in missing:
        for c in by_form.get(m.strip().casefold(), ()):
            if c == m:
                continue
            how = ("surrounding spaces" if c.strip() == m.strip() else
                   "case" if (c, m) == (c.strip(), m.strip()) else "case and surrounding spaces")
            said.append(f"{c!r} differs from {m!r} only in {how}")
    if not said:
        return ""
    shown = "; ".join(said[:3]) + ("; ..." if len(said) > 3 else "")
    return f"; {shown}: rename the column(s) to the model's names"


def as_feeds(data: Any, signature: Signature) -> Feeds:
    """Map data onto the model's inputs, cast to their element types and shaped to their ranks.

    * a dict: by input name;
    * a DataFrame: by column name when the inputs are columns, else the whole frame for one input;
    * an array: the single input, or split column by column over ``[N,1]`` inputs.

    Raises
    ------
    InvalidDataError
        Missing or extra inputs/columns, wrong widths, values that do not fit the element type.
    """
    import numpy as np

    inputs = signature.inputs
    names = [s.name for s in inputs]
    if not inputs:
        raise InvalidDataError("the model has no inputs to feed")
    data = _polars_category_nulls_as_none(from_polars(data), signature)
    colmap = signature.columns
    given = [str(c) for c in data.columns] if is_dataframe(data) else None  # as the user named them
    # data keyed by the user's own column names (recorded at conversion) feeds the inputs made from them;
    # columns the model never reads (a ColumnTransformer's dropped date or ID) are left out
    data = colmap.to_inputs(colmap.without_unread(data))
    coded = False
    if isinstance(data, Mapping):
        missing = [n for n in names if n not in data]
        extra = [k for k in data if k not in names]
        if missing or extra:
            raise InvalidDataError(
                f"expected the inputs {_named(names, colmap)}; missing {_named(missing, colmap)}, "
                f"unknown {shown_names(extra)}",
                input=(missing or extra)[0],
            )
        return {s.name: _fit_shape(_cast(_as_codes(data[s.name], s, f"input {s.name!r}"), s, f"input {s.name!r}"), s,
                                   f"input {s.name!r}") for s in inputs}
    if is_dataframe(data):
        columns = [str(c) for c in data.columns]
        by_column = len(inputs) > 1 or (names[0] in columns and (inputs[0].width in (1, None)))
        if by_column:
            missing = [n for n in names if n not in columns]
            if missing:
                raise lacking_columns_error(missing, signature, given if given is not None else columns)
            # An unused column is most often a label or ID left in by mistake, or a misspelt
            # feature that shadows a missing one; feeding silently would hide either.
            extra = [c for c in columns if c not in names]
            if extra:
                raise extra_columns_error(extra, signature)
            if any(not isinstance(c, str) for c in data.columns):
                # a frame of numbered columns (pd.DataFrame(array)) feeding the inputs '0', '1', ... by their
                # text: looked up by the number, the column was not found (KeyError '0' from parity, an MLflow
                # package of a model fitted on such a frame refused)
                repeated = sorted({c for c in columns if columns.count(c) > 1})
                if repeated:
                    raise InvalidDataError(
                        f"the data has the column(s) {repeated} twice (once as a number, once as text); give each "
                        "column once", column=repeated[0])
                data = data.set_axis(columns, axis=1)
            # the column as the user named it: 'mag nesium' (input 'mag_nesium')
            what = {s.name: f"column {colmap.describe(s.name)}" for s in inputs}
            refuse_unnumbered_columns([(str(colmap.column_for(s.name)), data[s.name], s) for s in inputs])
            return {
                s.name: _fit_shape(_cast(np.asarray(_as_codes(data[s.name], s, what[s.name])), s, what[s.name]), s,
                                   what[s.name])
                for s in inputs
            }
        if len(inputs) == 1:
            refuse_shuffled_positions(columns, inputs[0])
            refuse_unnumbered_columns([(c, data.iloc[:, j], inputs[0]) for j, c in enumerate(columns)])
            if inputs[0].codes:
                data = data.copy()
                for i, _ in inputs[0].codes:
                    if i < data.shape[1]:
                        data[data.columns[i]] = _as_codes(data.iloc[:, i], inputs[0], f"column {columns[i]!r}",
                                                          position=i)
            if inputs[0].numpy_dtype.kind in "iu" and data.shape[1] > 1 and len({str(t) for t in data.dtypes}) > 1:
                # an integer input from columns of several types, each cast on its own: the frame's one array
                # is float64 for int64 beside a float column (object beside a boolean one), which rounds past
                # 2**53 (148 of 300 labels off from a Parquet file, score exit 0; helper-142)
                return {names[0]: _fit_shape(np.column_stack(
                    [_cast(np.asarray(data.iloc[:, j]), inputs[0], f"column {columns[j]!r}")
                     for j in range(data.shape[1])]), inputs[0], "the data")}
        # booleans beside number columns become 1.0/0.0 in the frame's one array, as scikit-learn reads them
        data = data.to_numpy()
        coded = True  # the frame's category columns are codes now, not to be read by value again
    if (isinstance(data, (tuple, list)) and len(inputs) > 1 and len(data) == len(inputs)
            and all(hasattr(part, "shape") for part in data)):
        # one array per input, in input order: the form a multi-input PyTorch or Keras sample takes
        return {s.name: _fit_shape(_cast(np.asarray(_as_codes(part, s, f"array {i} ({s.name!r})")), s,
                                         f"array {i} ({s.name!r})"), s, f"array {i}")
                for i, (s, part) in enumerate(zip(inputs, data))}
    array = np.asarray(data)
    if len(inputs) == 1:
        spec = inputs[0]
        if spec.codes and array.ndim == 2 and not coded:
            parts, mapped = list(array.T), False
            for i, _ in spec.codes:
                if i < array.shape[1]:
                    parts[i] = _as_codes(given := parts[i], spec, f"column {i}", position=i)
                    mapped = mapped or parts[i] is not given
            if mapped:  # number categories read by value, as a frame's column is
                array = np.column_stack(parts)
        return {spec.name: _fit_shape(_cast(array, spec, "the data"), spec, "the data")}
    if array.ndim == 2 and array.shape[1] == len(inputs) and all(s.width == 1 for s in inputs):
        # each column read as the dict's or the frame's column of that input is: text category values as their
        # codes (a LightGBM category column converted for SQL Edge); as they were, an object array of the values
        # the frame passed with was refused ("holds text ('blue') but input 'color' is int32")
        return {
            s.name: _fit_shape(_cast(np.asarray(_as_codes(array[:, i], s, f"column {i} ({s.name!r})")), s,
                                     f"column {i} ({s.name!r})"), s, f"column {i}")
            for i, s in enumerate(inputs)
        }
    widths = [w for s in inputs if s.rank == 2 and isinstance(w := s.width, int)]
    if array.ndim == 2 and len(widths) == len(inputs) and sum(widths) == array.shape[1]:
        # One array for several [N,k] inputs (a multi-input Keras model): columns split by width, in input order.
        feeds, start = {}, 0
        for s, w in zip(inputs, widths):
            part = array[:, start : start + w]
            feeds[s.name] = _fit_shape(_cast(part, s, f"columns {start}-{start + w - 1}"), s, f"columns of {s.name!r}")
            start += w
        return feeds
    unread = colmap.unread
    dropped = (f"; it was fitted on {len(inputs) + len(unread)} columns and does not read {list(unread)} (its "
               "ColumnTransformer drops them), so an array holds only the columns it reads, in input order"
               if unread and array.ndim == 2 and array.shape[1] == len(inputs) + len(unread) else "")
    raise InvalidDataError(
        f"the model has {len(inputs)} inputs {names}; pass a dict or a DataFrame with those names, "
        f"or an array with one column per input (found shape {list(array.shape)}){dropped}"
    )


def _as_codes(values: Any, spec: TensorSpec, what: str, position: int = 0) -> Any:
    """A pandas category column feeding an input that reads codes (:attr:`TensorSpec.codes`) as the codes
    of its values among the categories the model was fitted on: fed as they are, the values (10, 20, ...)
    would be read as codes (0, 1, ...). A missing value becomes NaN (missing to the trees) where the input
    holds floats, else pandas' code -1, which the file reads as missing. A plain column (text, or numbers where
    the categories are numbers) is read by value as a JSON request is
    (:func:`onnxgate._category_codes.category_codes`). Anything else is passed on as it is (a column of numbers
    for text categories stays codes)."""
    import numpy as np

    if spec.categories is not None and type(getattr(values, "dtype", None)).__name__ != "CategoricalDtype":
        from onnxgate._category_codes import check_known_numbers

        try:  # LightGBM's integer categories: a number none of them may be a code (helper-233)
            check_known_numbers(np.asarray(values, dtype=object).ravel().tolist(), spec.categories, spec.missing)
        except ValueError as err:
            raise InvalidDataError(f"{what} {err}", input=spec.name) from None
    codes_of = dict(spec.codes or ())
    if position not in codes_of:
        return values
    recorded = codes_of[position]

    # a text column (a DataFrame's object or string column, a CSV's cells) holds the category values as they were
    # fitted, as a JSON request or a Spark column does: read by value as those are (a category's text, a number
    # category's decimal text, null as missing); it was refused, asking for codes or a pandas category column,
    # though the file recorded the categories (helper-226)
    # a plain number column (a frame's int64 or float64 column, a Parquet or CSV file's) of number categories
    # holds their values, as a JSON request and a Spark column do: months 1..12 were refused here ("both
    # categories and codes") where Spark, MLflow and the service read them as months (helper-233)
    plain = holds_category_values(values, spec, position)
    if not plain and type(getattr(values, "dtype", None)).__name__ != "CategoricalDtype":
        _refuse_numbers_of_numeric_texts(values, recorded, spec, what)
        _refuse_values_as_codes(values, recorded, spec, what)
        array = np.asarray(values)
        if spec.missing_refused and recorded and array.dtype.kind in "iu":
            from onnxgate._category_codes import category_codes

            try:  # the codes themselves: a negative one (-1, pandas' code of a missing value) refused as a null is
                category_codes(array[array < 0].tolist(), recorded, spec.unseen_missing, plain=True,
                               missing_refused=True)
            except ValueError as err:
                raise InvalidDataError(f"{what} {err}", input=spec.name) from None
        return values
    from onnxgate._category_codes import category_codes

    if recorded is None:
        raise InvalidDataError(
            f"{what} is a pandas category column, but input {spec.name!r} reads category codes and the model did "
            "not record its categories (XGBoost before 3.1, a sliced booster, or non-ASCII text), so the codes of "
            f"these values are unknown; pass the codes the model was fitted on ({what}.cat.codes, with the "
            "categories in training order)",
            input=spec.name,
        )
    try:
        cells = np.asarray(values, dtype=object)  # a dict's [N,1] array too: its rows are lists, not values
        items = [None if _missing(v) else v for v in cells.ravel().tolist()]  # pandas' NA too
        codes = category_codes(items, recorded, spec.unseen_missing, plain=plain,
                               missing_refused=spec.missing_refused,
                               missing_learnt=spec.missing_learnt).reshape(cells.shape)
    except ValueError as err:
        raise InvalidDataError(f"{what} {err}", input=spec.name) from None
    if spec.numpy_dtype.kind == "f":
        return np.where(codes < 0, np.nan, codes.astype(np.float64))
    return codes.astype(np.int64)  # a missing value's code is -1 (helper-145)


def holds_category_values(values: Any, spec: TensorSpec, position: int = 0) -> bool:
    """Whether ``values``, a column with no category type feeding column ``position`` of ``spec`` (an input of
    category codes), holds the categories by value, as a JSON request does: text, or numbers where the model's
    recorded categories are numbers (months 1..12: a plain 3 is March, not code 3). Such a column is mapped to
    the codes by :func:`onnxgate._category_codes.category_codes`; a column of numbers for text categories holds
    the codes."""
    import numpy as np

    recorded = dict(spec.codes or ()).get(position)
    if not recorded or type(getattr(values, "dtype", None)).__name__ == "CategoricalDtype":
        return False
    if holds_text(values):
        return True
    return (np.asarray(values).dtype.kind in "iuf"
            and any(isinstance(c, (int, float)) and not isinstance(c, bool) for c in recorded))


def holds_text(values: Any) -> bool:
    """Whether ``values`` (a column) is text: of a string type, or of objects each a ``str`` or missing (a batch
    of a text column may hold only nulls)."""
    import numpy as np

    array = np.asarray(values)
    if array.dtype.kind in "US":
        return True
    return array.dtype.kind == "O" and all(isinstance(v, str) or _missing(v) for v in array.ravel())


def _missing(value: Any) -> bool:
    """None, a float NaN, or pandas' NA or NaT."""
    return value is None or (isinstance(value, float) and value != value) or type(value).__name__ in ("NAType",
                                                                                                        "NaTType")


def numeric_texts(categories: Sequence[Any] | None) -> list[str]:
    """The text categories among ``categories`` that read as a number (``'01'``, ``'2'``, ``'1.5'``): a CSV reader
    reads a cell of one as that number, which cannot be told from a code."""
    found = []
    for category in categories or ():
        if isinstance(category, str):
            try:
                float(category)
            except ValueError:
                continue
            found.append(category)
    return found


def _refuse_numbers_of_numeric_texts(values: Any, recorded: Sequence[Any] | None, spec: TensorSpec,
                                     what: str) -> None:
    """Refuse a number column for text categories of which some read as numbers (``'1'``, ``'01'``, ``'2'``,
    ``'10'``): it may hold the codes (rows exported from the SQL table) or the categories read as numbers by a CSV
    reader (cells ``1``, ``01``, ``2`` read as 1, 1, 2), and nothing tells which. Read as codes, category ``'2'``
    was scored as code 2, category ``'10'``, and the reference was given the categories of those codes, so validate
    and the dry run passed (helper-342). A column of only missing values says nothing either
    way and passes."""
    import numpy as np

    looks = numeric_texts(recorded)
    array = np.asarray(values)
    if not looks or array.dtype.kind not in "iuf":
        return
    if array.dtype.kind == "f" and bool(np.isnan(array).all()):
        return
    shown = f"{list(recorded or ())[:10]}{'...' if len(recorded or ()) > 10 else ''}"
    raise InvalidDataError(
        f"{what} holds numbers, but input {spec.name!r} reads the codes of the model's text categories {shown}, "
        f"of which {looks[:10]} look like numbers: the numbers could be codes (the position of each category among "
        "them) or the categories themselves read as numbers (a CSV reader reads the cell 01 as 1), and onnxgate "
        "cannot tell which. Give the column as text: a Parquet file with a text column (a CSV's numbers are read "
        "as numbers), pandas.read_csv(..., dtype=str for that column, keep_default_na=False), or a pandas category "
        "column; to give codes (rows exported from the SQL table), give the column as "
        f"pandas.Categorical.from_codes(codes, categories={shown})",
        input=spec.name,
    )


def _refuse_values_as_codes(values: Any, recorded: Sequence[Any] | None, spec: TensorSpec, what: str) -> None:
    """Refuse a number column that cannot hold codes of ``recorded`` categories (one at or past their count):
    most likely their values, from a file that kept no category type (a CSV), which the trees would read as
    codes."""
    import numpy as np

    if not recorded:
        return
    array = np.asarray(values)
    if array.dtype.kind in "OUS":
        # the categories as text, from a file that kept no category type (a CSV): the generic advice for text in
        # a number input (pandas.to_numeric) turned every one of them into NaN (helper-165)
        known = {str(v) for v in recorded}
        found = next((v for v in array.ravel() if isinstance(v, str) and v in known), None)
        if found is not None:
            shown = f"{list(recorded)[:10]}{'...' if len(recorded) > 10 else ''}"
            raise InvalidDataError(
                f"{what} holds the category {found!r} as text, but input {spec.name!r} reads the codes of the "
                f"model's categories {shown} (the position of each among them, -1 for a missing value). Feed the "
                f"codes (pandas.Categorical(column, categories={shown}).codes), or a DataFrame whose column holds the "
                "categories (text or a pandas category column), which validate and score map to them",
                input=spec.name,
            )
        return
    if array.dtype.kind not in "iuf":
        return
    past = int(np.count_nonzero(array >= len(recorded)))
    if past:
        raise InvalidDataError(
            f"{what} holds {past} value(s) of {len(recorded)} or more, but input {spec.name!r} reads the codes "
            f"0..{len(recorded) - 1} of the model's categories {list(recorded)[:10]}"
            f"{'...' if len(recorded) > 10 else ''}: these look like the category values, not their codes. Pass "
            "the codes (the position of each value among those categories), or, from Python, the column as a "
            "pandas category column (.astype('category')), which is mapped to the codes",
            input=spec.name,
        )


def _named(inputs: list[str], columns: ColumnMap) -> str:
    """Input names as a user knows them: ``['sepal length (cm)' (input 'sepal_length__cm_'), ...]``."""
    if not columns.renamed:
        return shown_names(inputs)
    return shown_names(inputs, columns.describe, "inputs")


def slice_feeds(feeds: Mapping[str, np.ndarray], start: int, stop: int) -> Feeds:
    return {k: v[start:stop] for k, v in feeds.items()}


def float32_rows(data: Any) -> bool:
    """Whether the data's floating columns are all float32 (and it has one), and no integer column is one
    float32 does not hold exactly (int32, int64, uint32, uint64): an array, a DataFrame, a dict of arrays, or an
    Arrow schema (a table's or a batch's). What the user's own call of the native model would be given, so the
    reference is given it too (:data:`onnxgate.converters._base.ROWS_GIVEN_FLOAT32`).

    A frame of float32 columns beside an int64 one is computed on in float64 (numpy's result type of the two),
    and its integers past 2**24 are not float32 values: counted as float32 rows, the reference was given them
    rounded to the file's float32 input, and a HistGradientBoosting file 0.22 off the model's probabilities on
    the user's own epoch-second column passed validate (helper-131)."""
    import numpy as np

    schema = getattr(data, "schema", None)
    if schema is not None and hasattr(schema, "types"):  # Arrow
        names = [str(t) for t in schema.types]
        kinds = [k for k in names if k in ("halffloat", "float", "double")]
        return bool(kinds) and all(k == "float" for k in kinds) and not any(k in WIDE_INTEGERS for k in names)
    if isinstance(data, Mapping):
        dtypes = [np.asarray(v).dtype for v in data.values()]
    elif is_dataframe(data):
        # not pandas' own float and category types; its nullable integers (Int64) as the numpy ones they hold
        held = [d if isinstance(d, np.dtype) else getattr(d, "numpy_dtype", None)
                if getattr(d, "kind", None) in ("i", "u") else None for d in data.dtypes]
        dtypes = [d for d in held if isinstance(d, np.dtype)]
    elif isinstance(data, np.ndarray):
        dtypes = [data.dtype]
    else:
        return False
    floating = [d for d in dtypes if d.kind == "f"]
    wide = any(d.kind in "iu" and d.itemsize >= 4 for d in dtypes)
    return bool(floating) and all(d == np.float32 for d in floating) and not wide


#: Arrow's integer types float32 does not hold exactly: a column of them makes rows not float32 (:func:`float32_rows`).
WIDE_INTEGERS = frozenset({"int32", "int64", "uint32", "uint64"})


def iter_batches(data: Any, batch_size: int) -> Iterator[Any]:
    """Row slices of an array, DataFrame or dict of arrays, without copying the whole."""
    total = num_rows(data)
    for start in range(0, total, batch_size):
        stop = min(start + batch_size, total)
        if isinstance(data, Mapping):
            yield {k: v[start:stop] for k, v in data.items()}
        elif is_dataframe(data):
            yield data.iloc[start:stop]
        else:
            yield data[start:stop]
