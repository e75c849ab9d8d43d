"""The MLflow store: where it is, whether it answers, and finding what ganrun put there.

One module for every reader and writer of the store: the tracking plugin (which logs a run),
``ganrun sample`` / ``translate`` / ``cam`` (which download a run's generator), ``ganrun
sync``, ``ganrun runs`` and ``ganrun compare``. The default store is a SQLite file under the
working directory (``mlruns/mlflow.db``), so tracking works offline with no server; a
``http(s)://`` URI names a tracking server instead. mlflow is imported inside the functions:
a command that never touches the store does not pay for it.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ganrun.checkpoint import GENERATOR_DIR
from ganrun.errors import UserError

STORE_DIR = "mlruns"
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # keep stderr readable
# MLflow's HTTP client retries a call 7 times with exponential backoff (factor 2) and waits
# 120 s for each answer: minutes per call against a dead server. ganrun keeps what a server
# does not take and tries again itself, so one call gives up within seconds (one retry after
# about 1 s; a hung server: 10 s per attempt). Each can be overridden in the environment.
HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
                 "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                 "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}
for _name, _value in HTTP_DEFAULTS.items():
    os.environ.setdefault(_name, _value)

ANSWER_WITHIN_S = 5.0  # MLflow's own client retries a dead server for minutes
DATABASE_PORTS = {"postgresql": 5432, "mysql": 3306, "mssql": 1433}

# MLflow 3 files an experiment as GenAI or model training by this tag (its UI's experiment
# page offers the choice and writes it); ganrun's experiments are model training.
KIND_TAG, TRAINING_KIND = "mlflow.experimentKind", "custom_model_development"
# MLflow 3.17's UI takes its view from the page address, not from the tag (a feature flag of
# its bundle, on in 3.17.2; without it the view follows the tag): an address without this
# opens the GenAI view (traces, evaluation runs).
TRAINING_VIEW = "workflowType=machine_learning"
RUN_TAG = "ganrun.method"  # every run ganrun creates has it: how ganrun's runs are found
DEFAULT_UI = "http://127.0.0.1:5000"  # where ``mlflow ui`` serves by default


def default_uri(cwd: Path | None = None) -> str:
    """The local store of the working directory: ``sqlite:///CWD/mlruns/mlflow.db``."""
    return f"sqlite:///{(cwd or Path.cwd()).resolve() / STORE_DIR / 'mlflow.db'}"


def tracking_uri(recipe: Any) -> str:
    """The store a recipe tracks to: ``track.uri``, or the local default."""
    return recipe.track.uri or default_uri()


def local_file(uri: str) -> Path | None:
    """The database file of a local SQLite store; None for any other store."""
    return Path(uri[len("sqlite:///"):]) if uri.startswith("sqlite:///") else None


def is_server(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def answers(uri: str, timeout: float = ANSWER_WITHIN_S) -> str | None:
    """None when the store at ``uri`` answers within ``timeout`` s, else why not. An http(s)
    server must answer ``GET /health`` (any HTTP status counts as an answer), a database
    server must accept a TCP connection. Local stores (sqlite, file) always answer."""
    import socket
    import urllib.error
    import urllib.request
    from urllib.parse import urlsplit

    parts = urlsplit(uri)
    scheme = parts.scheme.split("+")[0]  # postgresql+psycopg2 -> postgresql
    try:
        if scheme in ("http", "https"):
            try:
                urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout).close()
            except urllib.error.HTTPError:
                pass  # a status, even 404 or 401, is an answer
        elif scheme in DATABASE_PORTS and parts.hostname:
            port = parts.port or DATABASE_PORTS[scheme]
            socket.create_connection((parts.hostname, port), timeout=timeout).close()
    except (OSError, ValueError) as e:
        return str(getattr(e, "reason", None) or e)
    return None


def check_server(uri: str, key: str = "track.uri") -> None:
    """Refuse, in a few seconds, a tracking store on the network that does not answer
    (:func:`answers`) with a one-line :class:`UserError` naming ``key`` and the uri."""
    reason = answers(uri, ANSWER_WITHIN_S)
    if reason is not None:
        raise UserError(f"{key}: no tracking server answers at {uri} within "
                        f"{ANSWER_WITHIN_S:.0f} s ({reason})")


def client(uri: str) -> Any:
    """An ``MlflowClient`` on ``uri`` for tracking and the Model Registry (a local store's
    folder is created)."""
    from mlflow.tracking import MlflowClient

    db = local_file(uri)
    if db is not None:
        db.parent.mkdir(parents=True, exist_ok=True)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def open_store(uri: str, key: str = "--uri") -> Any:
    """A client on an existing store, for reading: a local store that is not there is refused
    (not created empty), and so is a server that does not answer."""
    db = local_file(uri)
    if db is not None and not db.is_file():
        raise UserError(f"{key}: no MLflow store at {db} (no run was tracked from here; "
                        f"give the store with {key} URI)")
    check_server(uri, key)
    return client(uri)


# ---------------------------------------------------------------------------- experiments
def training_experiment(mlflow: Any, name: str, uri: str) -> str:
    """The id of experiment ``name``, created as a model-training experiment if it is new
    (its artifacts beside a local store, not in the working directory); an existing one
    without an experiment kind is given it."""
    from mlflow.exceptions import MlflowException

    exp = mlflow.get_experiment_by_name(name)
    if exp is None:
        db = local_file(uri)
        location = (db.parent / "artifacts").as_uri() if db is not None else None
        try:
            return mlflow.create_experiment(name, artifact_location=location,
                                            tags={KIND_TAG: TRAINING_KIND})
        except MlflowException:  # runs of a team starting at once: another one created it
            exp = mlflow.get_experiment_by_name(name)
            if exp is None:
                raise
    if KIND_TAG not in exp.tags:
        mlflow.set_experiment_tag(exp.experiment_id, KIND_TAG, TRAINING_KIND)
    return exp.experiment_id


def find_experiment(mlflow: Any, name: str, key: str = "EXPERIMENT") -> Any:
    """Experiment ``name`` (or id); one line naming the known ones if there is none."""
    exp = mlflow.get_experiment_by_name(name)
    if exp is None and name.isdigit():
        from mlflow.exceptions import MlflowException

        try:
            exp = mlflow.get_experiment(name)
        except MlflowException:
            exp = None
    if exp is None:
        known = ", ".join(sorted(e.name for e in ganrun_experiments(mlflow))) or "none"
        raise UserError(f"{key}: no experiment '{name}' in the store (ganrun's: {known})")
    return exp


def ganrun_experiments(mlflow: Any) -> list[Any]:
    """The active experiments that hold at least one ganrun run."""
    return [e for e in _all(mlflow.search_experiments)
            if mlflow.search_runs([e.experiment_id], f"tags.`{RUN_TAG}` LIKE '%'", max_results=1)]


def _all(search: Any) -> list[Any]:
    """Every page of an MLflow search: ``search(page_token=...)`` returns one."""
    out: list[Any] = []
    token = None
    while True:
        page = search(page_token=token)
        out.extend(page)
        token = page.token
        if not token:
            return out


# ---------------------------------------------------------------------------- runs
def ganrun_runs(mlflow: Any, experiment_ids: list[str], limit: int | None = None) -> list[Any]:
    """ganrun's runs in these experiments, newest first (at most ``limit``)."""
    if not experiment_ids:
        return []
    query = f"tags.`{RUN_TAG}` LIKE '%'"
    order = ["attributes.start_time DESC"]
    if limit is not None:
        return list(mlflow.search_runs(experiment_ids, query, order_by=order, max_results=limit))
    return _all(lambda page_token=None: mlflow.search_runs(
        experiment_ids, query, order_by=order, page_token=page_token))


def resolve_run(mlflow: Any, ref: str, key: str = "RUN") -> Any:
    """The run ``ref`` names: a run id, the start of one (as ``ganrun runs`` prints it), or a
    run name. One line when none or several fit."""
    from mlflow.exceptions import MlflowException

    if len(ref) == 32:
        try:
            return mlflow.get_run(ref)
        except MlflowException:
            pass
    ids = [e.experiment_id for e in ganrun_experiments(mlflow)]
    safe = ref.replace("'", "")
    found: list[Any] = []
    if safe.isalnum():
        found = _runs_where(mlflow, ids, f"attributes.run_id LIKE '{safe.lower()}%'")
    if not found:
        found = _runs_where(mlflow, ids, f"attributes.run_name = '{safe}'")
    if len(found) == 1:
        return found[0]
    if not found:
        raise UserError(f"{key}: no ganrun run '{ref}' (a run id, its start, or a run name; "
                        f"`ganrun runs` lists them)")
    names = ", ".join(f"{r.info.run_id[:8]} {r.info.run_name}" for r in found[:5])
    raise UserError(f"{key}: '{ref}' fits {len(found)} runs ({names}); give more of the run id")


def _runs_where(mlflow: Any, ids: list[str], query: str) -> list[Any]:
    if not ids:
        return []
    return list(mlflow.search_runs(ids, query, max_results=50))


def history(mlflow: Any, run_id: str, key: str) -> list[tuple[int, float]]:
    """(step, value) of metric ``key``, by step; the newest value of a step repeated."""
    points = {m.step: (m.timestamp, m.value) for m in
              sorted(mlflow.get_metric_history(run_id, key), key=lambda m: m.timestamp)}
    return [(step, value) for step, (_, value) in sorted(points.items())]


def ui_url(base: str, experiment_id: str, run_id: str | None = None) -> str:
    """The address of an experiment (or a run of it) in MLflow's UI, in its training view."""
    page = f"/experiments/{experiment_id}" + (f"/runs/{run_id}" if run_id else "")
    return f"{base.rstrip('/')}/#{page}?{TRAINING_VIEW}"


# ---------------------------------------------------------------------------- artifacts
def register_generator(mlflow: Any, name: str, run_id: str) -> None:
    """Register the run's generator folder (safetensors + recipe, no pickle) as a version of
    model ``name``, once: a replay after a lost answer finds the version already there."""
    from mlflow.exceptions import MlflowException

    try:
        mlflow.get_registered_model(name)
    except MlflowException:
        try:
            mlflow.create_registered_model(name)
        except MlflowException as e:  # another run of the team's created it meanwhile
            if e.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
    if mlflow.search_model_versions(f"name='{name}' and run_id='{run_id}'"):
        return
    source = f"{mlflow.get_run(run_id).info.artifact_uri}/{GENERATOR_DIR}"
    mlflow.create_model_version(name, source=source, run_id=run_id)


def download_generator(ref: str, uri: str, dst: Path) -> Path | None:
    """Download the generator folder of run id ``ref`` (or ``models:/NAME/VERSION``)."""
    from mlflow.artifacts import download_artifacts
    from mlflow.exceptions import MlflowException

    db = local_file(uri)
    if db is not None and not db.is_file():
        return None  # no local store: do not create an empty one
    check_server(uri, "--tracking-uri")
    store = client(uri)
    try:
        if ref.startswith("models:/"):
            name, _, version = ref[len("models:/"):].partition("/")
            source = store.get_model_version_download_uri(name, version)
            return Path(download_artifacts(artifact_uri=source, dst_path=str(dst)))
        return Path(store.download_artifacts(ref, GENERATOR_DIR, str(dst)))
    except (MlflowException, OSError):
        return None
