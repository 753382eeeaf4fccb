"""Fuzzing both model loaders (gconv_cpu.onnx.load and gconv_cpu.load) with mutated and truncated files.

Every case must either load (and then run; for ONNX, when ONNX Runtime accepts the same bytes, the outputs
must agree within 1e-4 relative to max|ort|) or raise a ValueError, TypeError, OverflowError or MemoryError
(or a subclass). Anything else -- another exception, a crash, a hang -- is a failure. The cases run in a
subprocess with a time limit, so a crash or a hang fails the test instead of killing the test runner; the
worker writes the case it is on to a progress file, which the failure message quotes.

Mutations: bit flips, truncation, spliced bytes; initializers with absurd, negative or inconsistent dims,
short/long raw_data, wrong data types, huge declared sizes; external data with path-traversal locations;
dangling inputs, cycles, duplicated and removed nodes; attributes of the wrong type or with random values;
random op types, opsets, input shapes and constant values (reshape targets, scales, split sizes). For the
native format: random values of random types anywhere in the JSON document, value-id rewiring (cycles,
dangling), .npy headers with other shapes and dtypes, missing or garbage members.

Profiles: the default (CI) runs 2,500 cases in seconds; GCONV_FUZZ_PROFILE=long runs 100,000.
Run the worker by hand: python tests/onnx/test_onnx_fuzz.py worker onnx SEED COUNT PROGRESS_FILE
"""
import copy
import io
import json
import os
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

PROFILES = {"ci": {"onnx": (1, 1500), "native": (2, 1000), "timeout": 300},
            "long": {"onnx": (11, 60000), "native": (12, 40000), "timeout": 3600}}
ALLOWED = (ValueError, TypeError, OverflowError, MemoryError)
MAX_RUN_FLOATS = 1 << 24  # cases whose activations would exceed this are loaded but not run


# ---- the pytest side -----------------------------------------------------------------------------------------

def _run_worker(kind, seed, count, timeout, tmp_path):
    progress = tmp_path / f"{kind}.progress"
    cmd = [sys.executable, os.path.abspath(__file__), "worker", kind, str(seed), str(count), str(progress)]
    import gconv_cpu
    under_test = os.path.dirname(os.path.dirname(os.path.abspath(gconv_cpu.__file__)))  # the package this run tests
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([under_test, HERE]))
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        where = progress.read_text() if progress.exists() else "?"
        raise AssertionError(f"{kind} fuzz worker hung (over {timeout} s); it was on: {where}") from None
    if proc.returncode != 0:
        where = progress.read_text() if progress.exists() else "?"
        raise AssertionError(f"{kind} fuzz worker died with exit code {proc.returncode} on: {where}\n"
                             f"{proc.stderr[-3000:]}")
    stats = json.loads(proc.stdout.strip().splitlines()[-1])
    return stats


def test_fuzz_loaders(tmp_path):
    import pytest
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    profile = PROFILES[os.environ.get("GCONV_FUZZ_PROFILE", "ci")]
    report = {}
    for kind in ("onnx", "native"):
        seed, count = profile[kind]
        stats = _run_worker(kind, seed, count, profile["timeout"], tmp_path)
        report[kind] = stats
        assert stats["cases"] == count
        assert not stats["failures"], json.dumps(stats["failures"][:5], indent=1)
    print("\nfuzz:", json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "failures"} for k, v in report.items()}))
    assert report["onnx"]["loaded"] > 0 and report["onnx"]["refused"] > 0
    assert report["onnx"]["compared"] > 0
    assert report["native"]["loaded"] > 0 and report["native"]["refused"] > 0


# ---- the worker --------------------------------------------------------------------------------------------------

class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang()


def _activation_floats(model):
    from gconv_cpu.graph import _as4
    total = 0
    for s in model.graph.shapes:
        n = 1
        for d in _as4(s) if len(s) != 3 else s:
            n *= int(d)
        total += n
    return total


class Worker:
    def __init__(self, kind, seed, progress):
        import numpy as np
        self.np = np
        self.rng = np.random.default_rng(seed)
        self.kind = kind
        self.progress = open(progress, "w")
        self.stats = {"cases": 0, "loaded": 0, "ran": 0, "compared": 0, "refused": 0, "ort_refused": 0,
                      "too_large": 0, "not_finite": 0, "failures": [], "by_mutation": {}}

    def note(self, i, desc):
        self.progress.seek(0)
        self.progress.write(f"case {i}: {desc}\n")
        self.progress.truncate()
        self.progress.flush()

    def fail(self, i, desc, what):
        self.stats["failures"].append({"case": i, "mutation": desc, "error": what[-1500:]})
        dump = os.environ.get("GCONV_FUZZ_DUMP")  # a folder to keep failing inputs in
        if dump and self.current is not None:
            with open(os.path.join(dump, f"{self.kind}-{i}.bin"), "wb") as f:
                f.write(self.current)

    def case(self, i, desc, data, load):
        import signal
        np = self.np
        self.note(i, desc)
        self.current = data
        self.stats["cases"] += 1
        kind = desc.split(":")[0]
        per = self.stats["by_mutation"].setdefault(kind, [0, 0])
        per[0] += 1
        signal.alarm(20)
        try:
            try:
                model = load(data)
            except ALLOWED:
                self.stats["refused"] += 1
                return
            per[1] += 1
            self.stats["loaded"] += 1
            if model.input_shapes is None:
                return
            try:
                floats = _activation_floats(model)
            except ALLOWED:
                floats = 0
            if floats > MAX_RUN_FLOATS:
                self.stats["too_large"] += 1
                return
            feeds = {n: self.np.random.default_rng(i).uniform(-2, 2, s).astype(np.float32)
                     for n, s in zip(model.input_names, model.input_shapes)}
            try:
                ours = model.run(feeds)
            except ALLOWED:
                self.stats["refused"] += 1
                return
            self.stats["ran"] += 1
            if self.kind == "onnx":
                self.compare(i, desc, data, feeds, ours)
        except _Hang:
            self.fail(i, desc, "hang (over 20 s)")
        except Exception:  # noqa: BLE001 -- anything else is what the fuzzer looks for
            self.fail(i, desc, traceback.format_exc())
        finally:
            signal.alarm(0)

    def compare(self, i, desc, data, feeds, ours):
        np = self.np
        from onnx_util import ort_session, rel_err
        try:
            sess = ort_session(data)
            refs = sess.run(None, feeds)
        except Exception:  # noqa: BLE001 -- ONNX Runtime refusing a mutated model is fine
            self.stats["ort_refused"] += 1
            return
        for (name, y), ref in zip(ours.items(), refs):
            ref = np.asarray(ref)
            if ref.shape != y.shape:
                self.fail(i, desc, f"output {name}: shape {y.shape} but ONNX Runtime gives {ref.shape}")
                return
            if not (np.all(np.isfinite(ref)) and np.all(np.isfinite(y))) or np.max(np.abs(ref), initial=0) > 1e30:
                self.stats["not_finite"] += 1
                return
            err = rel_err(y, ref)
            if err > 1e-4:
                self.fail(i, desc, f"output {name}: relative error {err:.3g} vs ONNX Runtime")
                return
        self.stats["compared"] += 1

    # ---- byte-level mutations (both formats)
    def bytes_mutation(self, data):
        rng = self.rng
        b = bytearray(data)
        m = int(rng.integers(0, 3))
        if m == 0:
            for _ in range(int(rng.integers(1, 17))):
                k = int(rng.integers(0, len(b)))
                b[k] ^= 1 << int(rng.integers(0, 8))
            return "bitflip", bytes(b)
        if m == 1:
            return "truncate", bytes(b[:int(rng.integers(0, len(b)))])
        k = int(rng.integers(0, len(b)))
        if rng.random() < 0.5:
            return "splice_delete", bytes(b[:k] + b[k + int(rng.integers(1, 64)):])
        return "splice_insert", bytes(b[:k] + bytes(rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np_uint8()))
                                      + b[k:])


def np_uint8():
    import numpy as np
    return np.uint8


# ---- ONNX ----------------------------------------------------------------------------------------------------

OP_TYPES = ["Conv", "Relu", "Add", "Mul", "Concat", "Reshape", "Transpose", "Slice", "Split", "Resize", "MaxPool",
            "AveragePool", "Gemm", "MatMul", "Softmax", "Clip", "Identity", "Shape", "Gather", "Cast", "Loop", "If",
            "Erf", "ConvTranspose", "BatchNormalization", "Flatten", "Squeeze", "Unsqueeze", "Constant", "Expand",
            "ConstantOfShape", "Range", "Tile", "Where", "Sigmoid", "PRelu", "HardSigmoid", "Upsample", "Pad"]
LOCATIONS = ["../../../../etc/passwd", "/etc/passwd", "a/../../b.bin", "..\\..\\x", "weights.bin", "", "\0bad"]


def onnx_seeds():
    import numpy as np
    from onnx_util import make_model, node, rand, seed_models
    seeds = [(n, d) for n, d, _ in seed_models()]
    import importlib.util
    if importlib.util.find_spec("gconv_cpu._deconv") is None:
        seeds = [(n, d) for n, d in seeds if n != "deconv"]
    nodes = [node("Conv", ["x", "w"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             node("Shape", ["c"], ["s"]), node("Gather", ["s", "i0"], ["n"], axis=0),
             node("Unsqueeze", ["n", "ax0"], ["n1"]), node("Concat", ["n1", "m1"], ["t"], axis=0),
             node("Reshape", ["c", "t"], ["f"]), node("Softmax", ["f"], ["y"], axis=-1)]
    inits = {"w": rand(4, 3, 3, 3, seed=3), "i0": np.array(0, np.int64), "ax0": np.array([0], np.int64),
             "m1": np.array([-1], np.int64)}
    seeds.append(("fold", make_model(nodes, {"x": (1, 3, 5, 5)}, ["y"], inits, opset=13)))
    return seeds


class OnnxWorker(Worker):
    def run(self, count):
        import onnx
        import gconv_cpu.onnx as gonnx
        seeds = onnx_seeds()
        if not any(n == "deconv" for n, _ in seeds):  # ConvTranspose's kernel is not built
            OP_TYPES.remove("ConvTranspose")
        protos = [(n, onnx.load_model_from_string(d)) for n, d in seeds]
        for i in range(count):
            name, data = seeds[i % len(seeds)]
            proto = protos[i % len(protos)][1]
            r = self.rng.random()
            if r < 0.3:
                desc, mutated = self.bytes_mutation(data)
            else:
                desc, mutated = self.proto_mutation(copy.deepcopy(proto))
            self.case(i, f"{desc}:{name}", mutated, gonnx.load)

    def proto_mutation(self, m):
        from onnx import TensorProto, helper
        rng = self.rng
        g = m.graph
        pick = lambda seq: seq[int(rng.integers(0, len(seq)))]  # noqa: E731
        k = int(rng.integers(0, 12))
        inits = list(g.initializer)
        if k == 0 and inits:
            t = pick(inits)
            choice = int(rng.integers(0, 5))
            dims = list(t.dims)
            if choice == 0:
                dims = [int(rng.choice([1 << 40, 1 << 62, 2**31 - 1, 65536]))] + dims[1:]
            elif choice == 1:
                dims = dims + [int(rng.integers(-3, 3))]
            elif choice == 2 and dims:
                dims[int(rng.integers(0, len(dims)))] = int(rng.integers(-5, 40))
            elif choice == 3:
                dims = [1 << 20, 1 << 20, 1 << 20]
            else:
                dims = []
            del t.dims[:]
            t.dims.extend(dims)
            return "init_dims", m.SerializeToString()
        if k == 1 and inits:
            t = pick(inits)
            choice = int(rng.integers(0, 4))
            if choice == 0 and t.raw_data:
                t.raw_data = t.raw_data[:int(rng.integers(0, len(t.raw_data)))]
            elif choice == 1:
                t.raw_data = t.raw_data + bytes(int(rng.integers(1, 9)))
            elif choice == 2:
                t.data_type = int(rng.integers(0, 18))
            else:
                t.raw_data = b""
                t.float_data.extend([1.0] * int(rng.integers(0, 5)))
            return "init_data", m.SerializeToString()
        if k == 2 and inits:
            t = pick(inits)
            t.data_location = TensorProto.EXTERNAL
            t.raw_data = b""
            t.external_data.add(key="location", value=pick(LOCATIONS))
            if rng.random() < 0.5:
                t.external_data.add(key="length", value=str(int(rng.integers(0, 1 << 40))))
            return "external_data", m.SerializeToString()
        nodes = list(g.node)
        if k == 3 and nodes:
            n = pick(nodes)
            if n.input:
                n.input[int(rng.integers(0, len(n.input)))] = pick(["nowhere", "", "x", n.output[0]])
            return "dangling", m.SerializeToString()
        if k == 4 and len(nodes) > 1:
            a = int(rng.integers(0, len(nodes) - 1))
            b = int(rng.integers(a + 1, len(nodes)))
            if nodes[a].input:
                nodes[a].input[0] = nodes[b].output[0]
            return "cycle", m.SerializeToString()
        if k == 5 and nodes:
            n = pick(nodes)
            if n.attribute:
                a = pick(list(n.attribute))
                name = a.name
                n.attribute.remove(a)
                value = pick([2.5, "SAME_UPPER", [1, 2], [1.5], -1, 0, 1 << 40, b"x",
                              helper.make_tensor("t", TensorProto.FLOAT, [1], [1.0])])
                n.attribute.append(helper.make_attribute(name, value))
            else:
                n.attribute.append(helper.make_attribute(pick(["axis", "group", "perm", "mode"]), pick([3, "x", [0, 1]])))
            return "attr_type", m.SerializeToString()
        if k == 6 and nodes:
            n = pick(nodes)
            ints = [a for a in n.attribute if a.type in (2, 7)]
            if ints:
                a = pick(ints)
                vals = [int(v) for v in rng.choice([-3, -1, 0, 1, 2, 3, 5, 7, 1 << 31, 1 << 62], 1 + int(rng.integers(0, 5)))]
                if a.type == 2:
                    a.i = vals[0]
                else:
                    del a.ints[:]
                    a.ints.extend(vals)
            return "attr_value", m.SerializeToString()
        if k == 7 and nodes:
            pick(nodes).op_type = pick(OP_TYPES)
            return "op_type", m.SerializeToString()
        if k == 8 and nodes:
            if rng.random() < 0.5:
                g.node.remove(pick(nodes))
            else:
                g.node.append(copy.deepcopy(pick(nodes)))
            return "node_count", m.SerializeToString()
        if k == 9:
            m.opset_import[0].version = int(rng.integers(0, 30))
            return "opset", m.SerializeToString()
        if k == 10:
            dims = g.input[0].type.tensor_type.shape.dim
            if len(dims):
                d = dims[int(rng.integers(0, len(dims)))]
                d.dim_value = int(rng.choice([0, 1, 2, 3, 17, 1 << 20, 1 << 40]))
            return "input_dims", m.SerializeToString()
        if inits:  # constant values: reshape targets, scales, split sizes, weights
            t = pick(inits)
            from onnx import numpy_helper
            import numpy as np
            arr = numpy_helper.to_array(t).copy()
            if arr.size:
                flat = arr.reshape(-1)
                j = int(rng.integers(0, flat.size))
                if arr.dtype.kind in "iu":
                    flat[j] = int(rng.choice([-(1 << 40), -2, -1, 0, 1, 2, 3, 1 << 30, 1 << 62]))
                else:
                    flat[j] = rng.choice([0.0, -1.0, 0.5, 3.0, 1e30, np.inf, np.nan, 1e-30, 7.5])
                t.CopyFrom(numpy_helper.from_array(arr, t.name))
            return "const_value", m.SerializeToString()
        return "noop", m.SerializeToString()


# ---- native ---------------------------------------------------------------------------------------------------

def native_seeds():
    import gconv_cpu.onnx as gonnx
    seeds = []
    for name, data in onnx_seeds():
        buf = io.BytesIO()
        gonnx.load(data).save(buf)
        seeds.append((name, buf.getvalue()))
    return seeds


def _random_json_value(rng):
    pick = lambda seq: seq[int(rng.integers(0, len(seq)))]  # noqa: E731
    return pick([-1, 0, 1, 2, 3, 7, 1 << 31, 1 << 63, -(1 << 40), 0.5, float("nan"), float("inf"), "", "conv", "relu",
                 "nearest", "float32", None, True, False, [], [1], [1, 2], [0, 0, 0, 0], [1] * 13, [3, 4, 1, 3, 3, 1, 1,
                 1, 1, 0, 0, 0, 0], {}, {"a": 1}, [[[[]]]]])


class NativeWorker(Worker):
    def run(self, count):
        import numpy as np
        import gconv_cpu
        seeds = native_seeds()
        for i in range(count):
            name, data = seeds[i % len(seeds)]
            r = self.rng.random()
            if r < 0.25:
                desc, mutated = self.bytes_mutation(data)
            elif r < 0.85:
                desc, mutated = self.json_mutation(data)
            else:
                desc, mutated = self.npy_mutation(data, np)
            self.case(i, f"{desc}:{name}", mutated, gconv_cpu.load)

    @staticmethod
    def _members(data):
        import zipfile
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return {n: zf.read(n) for n in zf.namelist()}

    @staticmethod
    def _zip(members):
        import zipfile
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for n, b in members.items():
                zf.writestr(n, b)
        return buf.getvalue()

    @staticmethod
    def _npy(arr):
        import numpy as np
        buf = io.BytesIO()
        np.lib.format.write_array(buf, np.asarray(arr), allow_pickle=False)
        return buf.getvalue()

    def json_mutation(self, data):
        import numpy as np
        rng = self.rng
        members = self._members(data)
        doc = json.loads(np.load(io.BytesIO(members["graph.npy"])).tobytes())
        # collect every container slot
        slots = []

        def walk(obj):
            if isinstance(obj, dict):
                for key in list(obj):
                    slots.append((obj, key))
                    walk(obj[key])
            elif isinstance(obj, list):
                for j in range(len(obj)):
                    slots.append((obj, j))
                    walk(obj[j])
        walk(doc)
        k = int(rng.integers(0, 5))
        desc = "json_value"
        for _ in range(1 + int(rng.integers(0, 3))):
            parent, key = slots[int(rng.integers(0, len(slots)))]
            if k == 4:  # small changes to numbers: plausible graphs with wrong sizes
                desc = "json_nudge"
                nums = [(p_, k_) for p_, k_ in slots if type(p_[k_]) in (int, float)]
                if nums:
                    parent, key = nums[int(rng.integers(0, len(nums)))]
                    v = parent[key]
                    parent[key] = v + int(rng.integers(-2, 3)) if type(v) is int else v * float(rng.choice([0, -1, 0.5, 2]))
            elif k == 0 or k == 1:
                parent[key] = _random_json_value(rng)
            elif k == 2:
                desc = "json_delete"
                if isinstance(parent, dict):
                    parent.pop(key, None)
                elif parent:
                    parent.pop(int(rng.integers(0, len(parent))))
            else:
                desc = "json_rewire"
                nodes = doc.get("nodes") or []
                if nodes:
                    n = nodes[int(rng.integers(0, len(nodes)))]
                    if n.get("inputs"):
                        n["inputs"][0] = int(rng.integers(0, doc.get("num_values", 1) + 2))
            slots = []
            walk(doc)
            if not slots:
                break
        members["graph.npy"] = self._npy(np.frombuffer(json.dumps(doc).encode(), np.uint8))
        return desc, self._zip(members)

    def npy_mutation(self, data, np):
        rng = self.rng
        members = self._members(data)
        params = [n for n in members if n.startswith("param_")]
        if not params:
            return "npy_none", data
        name = params[int(rng.integers(0, len(params)))]
        k = int(rng.integers(0, 4))
        arr = np.load(io.BytesIO(members[name]))
        if k == 0:
            members[name] = self._npy(arr.reshape(-1))
        elif k == 1:
            members[name] = self._npy(arr.astype(np.float64))
        elif k == 2:
            members.pop(name)
        else:
            members[name] = bytes(rng.integers(0, 256, int(rng.integers(0, 200)), dtype=np.uint8))
        return f"npy_{k}", self._zip(members)


def worker_main(kind, seed, count, progress):
    import resource
    import signal
    signal.signal(signal.SIGALRM, _alarm)
    sys.path[:0] = [HERE, os.path.dirname(HERE)]
    from reference import under_asan
    # ASan reserves terabytes of shadow address space and fails to mmap under an RLIMIT_AS ("ERROR: Failed
    # to mmap", exit 1, before the first case); there its max_allocation_size_mb bounds allocations instead.
    if not under_asan():
        limit = 8 << 30
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    w = (OnnxWorker if kind == "onnx" else NativeWorker)(kind, seed, progress)
    t0 = time.time()
    w.run(count)
    w.stats["seconds"] = round(time.time() - t0, 1)
    w.stats["failures"] = w.stats["failures"][:50]
    print(json.dumps(w.stats))


if __name__ == "__main__" and len(sys.argv) == 6 and sys.argv[1] == "worker":
    worker_main(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
