# Runs a list of operations against the Python butler (daf_butler w.2023.51
# from ../shared/pyref) in one process, so that the interop suite pays for the
# Python start-up once per step, not once per command. Reads a JSON list of
# operations on stdin and writes a JSON list of results (one per operation) on
# stdout. An operation that raises gives {"error": "..."} and the next one runs.
import base64
import io
import json
import os
import sys
import traceback
import uuid

import click.testing
from astropy.time import Time, TimeDelta
from lsst.daf.butler import (
    Butler,
    CollectionType,
    DatasetRef,
    DatasetType,
    FileDataset,
    Timespan,
)
from lsst.daf.butler.cli.butler import cli

_butlers = {}


def butler(repo, run=None):
    key = (repo, run)
    if key not in _butlers:
        _butlers[key] = Butler(repo, writeable=True, run=run)
    return _butlers[key]


def forget(repo):
    for key in [k for k in _butlers if k[0] == repo]:
        del _butlers[key]


def tai(s):
    return None if s is None else Time(s, format="isot", scale="tai")


def ref_of(b, id):
    ref = b.registry.getDataset(uuid.UUID(id))
    if ref is None:
        raise LookupError(f"no dataset {id}")
    return ref


def op_cli(o):
    runner = click.testing.CliRunner(mix_stderr=False)
    res = runner.invoke(cli, o["args"], catch_exceptions=True)
    err = res.stderr
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        err += "".join(traceback.format_exception(res.exception))
    for a in o["args"][1:]:
        forget(a)  # a command may have changed the repository under a cached Butler
    return {"code": res.exit_code, "stdout": res.stdout, "stderr": err}


def op_register(o):
    b = butler(o["repo"])
    dt = DatasetType(o["name"], o["dimensions"], o["storage_class"], universe=b.dimensions,
                     isCalibration=o.get("calibration", False))
    added = b.registry.registerDatasetType(dt)
    forget(o["repo"])  # other cached Butlers would not see the new type
    return {"added": added}


def op_put(o):
    b = butler(o["repo"], run=o["run"])
    ref = b.put(o["value"], o["type"], o["data_id"], run=o["run"])
    return {"id": str(ref.id)}


def op_ingest(o):
    b = butler(o["repo"])
    b.registry.registerRun(o["run"])
    dt = b.registry.getDatasetType(o["type"])
    fds = []
    for f in o["files"]:
        fds.append(FileDataset(path=f["path"], refs=[DatasetRef(dt, f["data_id"], run=o["run"])]))
    b.ingest(*fds, transfer=o.get("transfer", "auto"), run=o["run"])
    return {"ids": [str(fd.refs[0].id) for fd in fds]}


def op_collection(o):
    b = butler(o["repo"])
    b.registry.registerCollection(o["name"], CollectionType.__members__[o["type"]])
    if o["type"] == "CHAINED":
        b.registry.setCollectionChain(o["name"], o["children"])
    if o["type"] == "TAGGED":
        b.registry.associate(o["name"], [ref_of(b, i) for i in o["ids"]])
    return {}


def op_certify(o):
    b = butler(o["repo"])
    b.registry.registerCollection(o["collection"], CollectionType.CALIBRATION)
    ts = Timespan(tai(o.get("begin")), tai(o.get("end")))
    b.registry.certify(o["collection"], [ref_of(b, i) for i in o["ids"]], ts)
    return {}


def op_read(o):
    """Reads datasets (by ID, or all those of "types" in "collections"):
    Butler.get (which checks the recorded file size) and the bytes of the file."""
    b = Butler(o["repo"])
    out = {}
    ids = o.get("ids") or [str(r.id) for t in o["types"] for r in b.registry.queryDatasets(t, collections=o["collections"])]
    for id in ids:
        try:
            ref = ref_of(b, id)
            value = b.get(ref)
            data = b.getURI(ref).read()
            out[id] = {
                "type": ref.datasetType.name,
                "run": ref.run,
                "data_id": {k: v for k, v in ref.dataId.required.items()},
                "b64": base64.b64encode(data).decode(),
                "value": json.loads(json.dumps(value, default=str)),
            }
        except Exception as e:  # noqa: BLE001 - reported per dataset
            out[id] = {"error": f"{type(e).__name__}: {e}"}
    return out


def op_find(o):
    """registry.findDataset; with "at", a calibration lookup at that TAI time."""
    b = Butler(o["repo"])
    kw = {}
    if o.get("at"):
        t = tai(o["at"])
        kw["timespan"] = Timespan(t, t + TimeDelta(1, format="sec"))
    ref = b.registry.findDataset(o["type"], o["data_id"], collections=o["collections"], **kw)
    return {"id": None if ref is None else str(ref.id), "run": None if ref is None else ref.run}


def op_export(o):
    os.makedirs(o["dir"], exist_ok=True)
    b = Butler(o["repo"])
    refs = set()
    for t in o["types"]:
        refs.update(b.registry.queryDatasets(t, collections=o["collections"]))
    with b.export(directory=o["dir"], filename=o.get("file", "export.yaml"), transfer=o.get("transfer", "copy")) as ex:
        ex.saveDatasets(refs)
        for c in o.get("extra_collections", []):
            ex.saveCollection(c)
    return {"n": len(refs)}


def op_query_ids(o):
    b = Butler(o["repo"])
    ids = []
    for t in o["types"]:
        ids += [str(r.id) for r in b.registry.queryDatasets(t, collections=o["collections"], findFirst=o.get("find_first", False))]
    return {"ids": ids}


OPS = {name[3:]: f for name, f in globals().items() if name.startswith("op_")}


def main():
    ops = json.load(sys.stdin)
    results = []
    for o in ops:
        try:
            results.append(OPS[o["op"]](o))
        except Exception as e:  # noqa: BLE001 - reported to the test
            results.append({"error": f"{type(e).__name__}: {e}\n{traceback.format_exc()}"})
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
