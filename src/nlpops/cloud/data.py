"""The training channel: a DVC-tracked file's object in the DVC remote on S3, read where DVC put it.

The job reads the exact bytes ``dvc push`` uploaded (content-addressed by hash), so a job trains on the data
of the commit it was started from, with no second upload.
"""

from __future__ import annotations

from nlpops.errors import UserError

DEFAULT_DATA = "data/raw/rotten_tomatoes_corpus_full.csv.bz2"  # data.dvc's raw reviews (configs/data/rotten_tomatoes)


def remote_url(path: str) -> str:
    """The ``s3://`` URL of ``path``'s object in the default DVC remote (.dvc/config)."""
    import dvc.api
    from dvc.exceptions import DvcException
    from dvc_data.index.index import DataIndexDirError

    try:
        url = dvc.api.get_url(path)
    except DataIndexDirError:  # a file in a tracked folder: DVC needs the folder's listing, which `dvc pull` brings
        raise UserError(
            f"--data {path}: DVC has not got the listing of its folder here; run `dvc pull data.dvc` (or `make data`)"
        ) from None
    except (DvcException, FileNotFoundError) as err:
        raise UserError(f"--data {path}: not a DVC-tracked file here ({' '.join(str(err).split())})") from None
    if not url.startswith("s3://"):
        raise UserError(f"--data {path}: its DVC remote is {url.split('/')[0]}//..., SageMaker reads from s3:// only")
    return url
