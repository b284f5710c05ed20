"""Run batch jobs in-process, over a local process pool, or as Ray tasks; then summarise.

Scheduling is never done here: the local pool is :class:`concurrent.futures.ProcessPoolExecutor`
(one single-threaded worker per core), and a cluster is Ray's (``ray.remote`` tasks of one
CPU each, collected with ``ray.wait``). The driver only writes finished outputs atomically,
draws the progress bar and counts.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from ..errors import BackendUnavailable, InputError, SggicError
from .jobs import Job
from .work import WorkResult, run_job, single_thread_worker


class BatchFailed(SggicError):
    """Some files of a batch failed (each is listed in the summary); the others were written."""

    exit_code = 1


@dataclass
class Outcome:
    job: Job
    status: str  # "done", "skipped" (output already there) or "failed"
    in_bytes: int = 0
    out_bytes: int = 0
    pixels: int = 0
    seconds: float = 0.0
    error: str | None = None


@dataclass
class BatchResult:
    """Every job's outcome and the totals the closing summary prints."""

    kind: str
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0
    workers: str = ""

    def _with(self, status: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def done(self) -> list[Outcome]:
        return self._with("done")

    @property
    def skipped(self) -> list[Outcome]:
        return self._with("skipped")

    @property
    def failed(self) -> list[Outcome]:
        return self._with("failed")

    @property
    def mean_bpp(self) -> float | None:
        """Mean over the files done of the .sgc file's bits per pixel of the image."""
        rates = []
        for o in self.done:
            sgc = o.out_bytes if self.kind == "encode" else o.in_bytes
            if o.pixels:
                rates.append(sgc * 8 / o.pixels)
        return sum(rates) / len(rates) if rates else None

    def summary(self) -> list[str]:
        """The closing summary: one line of totals, then one line per failure."""
        verb = "encoded" if self.kind == "encode" else "decoded"
        done = self.done
        in_b, out_b = sum(o.in_bytes for o in done), sum(o.out_bytes for o in done)
        line = f"{verb} {len(done)} file{'s' if len(done) != 1 else ''}"
        if done:
            line += f": {in_b} -> {out_b} bytes"
            if self.mean_bpp is not None:
                line += f", mean {self.mean_bpp:.4f} bpp"
        line += f", {self.seconds:.1f} s"
        if self.workers:
            line += f" ({self.workers})"
        extra = []
        if self.skipped:
            extra.append(f"{len(self.skipped)} skipped (output already there)")
        if self.failed:
            extra.append(f"{len(self.failed)} failed")
        if extra:
            line += "; " + ", ".join(extra)
        return [line] + [f"failed: {o.job.src}: {o.error}" for o in self.failed]


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _write(job: Job, r: WorkResult) -> Outcome:
    from ..images import atomic_write

    if r.error is not None or r.data is None:
        return Outcome(job, "failed", seconds=r.seconds, error=r.error or "no output")
    try:
        job.dst.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(job.dst, r.data)
    except (OSError, SggicError) as e:
        return Outcome(job, "failed", seconds=r.seconds, error=f"cannot write {job.dst}: {e}")
    return Outcome(job, "done", r.in_bytes, len(r.data), r.pixels, r.seconds)


def _local(jobs: Sequence[Job], kind: str, options: dict[str, Any], out_suffix: str,
            workers: int) -> Iterator[tuple[Job, WorkResult]]:
    if workers <= 1:
        for j in jobs:  # in-process: one job at a time may use every core
            yield j, run_job(kind, str(j.src), None, options, out_suffix)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # spawn: the driver has threads (the progress bar), which fork must not copy
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                             initializer=single_thread_worker) as pool:
        futures = {pool.submit(run_job, kind, str(j.src), None, options, out_suffix, 1): j for j in jobs}
        try:
            for f in as_completed(futures):
                yield futures[f], f.result()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _ray(jobs: Sequence[Job], kind: str, options: dict[str, Any], out_suffix: str,
         address: str) -> Iterator[tuple[Job, WorkResult]]:
    try:
        import ray
    except ImportError:
        raise BackendUnavailable("--ray needs the Ray package: pip install 'sggic[cluster]'") from None
    started = not ray.is_initialized()
    if started:
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False,
                     runtime_env={"env_vars": dict(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")})
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise InputError(f"cannot connect to the Ray cluster at {address!r}: {str(e).splitlines()[0]}") from None
    try:
        task = ray.remote(num_cpus=1, max_retries=1)(run_job)
        # the input's bytes travel with the task: the nodes need no shared filesystem
        pending = {task.remote(kind, str(j.src), j.src.read_bytes(), options, out_suffix, 1): j for j in jobs}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                yield pending.pop(ref), ray.get(ref)
    finally:
        if started:
            ray.shutdown()


def run_batch(kind: str, jobs: Sequence[Job], options: dict[str, Any], out_suffix: str,
              workers: int | None = None, ray_address: str | None = None, overwrite: bool = False,
              progress: bool = False, on_outcome: Callable[[Outcome], None] | None = None) -> BatchResult:
    """Convert every job whose output is not there yet (all of them with ``overwrite``)."""
    from tqdm import tqdm

    t0 = time.perf_counter()
    result = BatchResult(kind)
    todo = []
    for j in jobs:
        if not overwrite and j.dst.exists():
            result.outcomes.append(Outcome(j, "skipped"))
        else:
            todo.append(j)
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise InputError(f"--jobs must be a positive integer, got {workers!r}")
    if ray_address is not None:
        stream = _ray(todo, kind, options, out_suffix, ray_address)
        result.workers = f"Ray at {ray_address}"
    else:
        n = min(workers or default_jobs(), max(1, len(todo)))
        stream = _local(todo, kind, options, out_suffix, n)
        result.workers = f"{n} worker{'s' if n != 1 else ''}" if todo else ""
    bar = tqdm(total=len(todo), desc=kind, unit="file", file=sys.stderr, disable=not progress,
               dynamic_ncols=True)
    try:
        for job, r in stream:
            o = _write(job, r)
            result.outcomes.append(o)
            bar.update(1)
            if o.status == "failed":
                bar.set_postfix_str(f"{len(result.failed)} failed", refresh=False)
            if on_outcome is not None:
                on_outcome(o)
    finally:
        bar.close()
    order = {j: i for i, j in enumerate(jobs)}
    result.outcomes.sort(key=lambda o: order[o.job])
    result.seconds = time.perf_counter() - t0
    return result
