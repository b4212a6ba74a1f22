"""`ssvae-edge`: inspect a bundle, score a sensor stream, benchmark the graphs, build the web page.

Every user mistake (bad bundle, bad input file, unavailable provider, impossible option) ends with one
line on stderr and exit code 2 — no traceback; a traceback means a bug in this code.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import onnxruntime as ort
import typer

from ssvae_edge import cliconv
from ssvae_edge.alerts import DEFAULT_CLEAR_K, DEFAULT_K, DEFAULT_M
from ssvae_edge.bundle import Bundle
from ssvae_edge.csvinput import SampleReader
from ssvae_edge.describe import bundle_summary, summary_rows
from ssvae_edge.errors import EdgeError
from ssvae_edge.stream import StreamScorer
from ssvae_edge.terminal import StreamTable, bench_table, summary_text

app = cliconv.new_app(
    "Run an exported ssvae bundle with onnxruntime: inspect it, score a sensor stream, benchmark it, "
    "build its web page.", name="ssvae-edge", add_completion=False)
PROG = "ssvae-edge"


@app.callback()
def _main(version: Annotated[bool, cliconv.version_option(PROG)] = False) -> None:
    """Run an exported ssvae bundle with onnxruntime: inspect it, score a sensor stream, benchmark it,
    build its web page."""

BundleArg = Annotated[Path, typer.Argument(
    help="Bundle folder (holding manifest.json and the .onnx graphs).", show_default=False)]
ProvidersOpt = Annotated[str, typer.Option(
    "--providers",
    help="'auto' (CUDA when onnxruntime offers it, else CPU; says which really runs) or a comma list "
         "such as 'cuda,cpu' or 'CPUExecutionProvider'; a named provider that is not available is refused.")]
ThreadsOpt = Annotated[int | None, typer.Option(
    "--threads", min=0, help="onnxruntime intra-op threads (default: onnxruntime's choice, one per core).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON even when stdout is a terminal.")]
PrecisionOpt = Annotated[str, typer.Option(
    "--precision", metavar="[fp32|int8]",
    help="fp32 (the graphs) or int8 (the statically quantized *.int8.onnx the manifest lists under "
         "graphs_int8, with the int8 anomaly graph's own threshold; a graph without an int8 version runs "
         "in fp32).")]


def _fail(message: str) -> typer.Exit:
    """One line on stderr, exit code 2."""
    return cliconv.fail(PROG, message)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn the runtime's own errors and file-system errors into one line and exit 2."""
    try:
        yield
    except EdgeError as e:
        raise _fail(str(e)) from None
    except OSError as e:
        if isinstance(e, BrokenPipeError):  # `ssvae-edge stream ... | head`: the reader left, not an error
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
            raise typer.Exit(0) from None
        raise _fail(f"{e.filename + ': ' if e.filename else ''}{e.strerror or e}") from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def _tty() -> bool:
    """Is stdout a terminal (table output) rather than a pipe or file (JSON)?"""
    return sys.stdout.isatty()


def _load(bundle: Path, providers: str, threads: int | None, precision: str = "fp32") -> Bundle:
    return Bundle.load(bundle, providers=providers, threads=threads, precision=precision)


# ---- info ---------------------------------------------------------------------------------------
@app.command()
def info(bundle: BundleArg, providers: ProvidersOpt = "auto", threads: ThreadsOpt = None,
         precision: PrecisionOpt = "fp32", as_json: JsonOpt = False) -> None:
    """Show the manifest summary, every graph file (fp32 and int8, sha256 verified), the inputs/outputs
    of the graphs that run in --precision, and the providers used."""
    with _user_errors():
        b = _load(bundle, providers, threads, precision)
        data = bundle_summary(b, precision)
        if as_json or not _tty():
            typer.echo(json.dumps(data, indent=2))
            return
        rows = summary_rows(b, data)
        width = max(len(k) for k, _ in rows)
        for k, v in rows:
            typer.echo(f"{k:<{width}}  {v}")


# ---- stream -------------------------------------------------------------------------------------
@app.command()
def stream(
    bundle: BundleArg,
    input: Annotated[str, typer.Option(
        "--input", "-i", show_default=False,
        help="CSV with a header of channel names (optional 'time' in seconds and 'label' columns), "
             "a .npy [T, channels] array, or '-' for CSV on stdin.")],
    hop: Annotated[int | None, typer.Option(
        "--hop", min=1, help="Samples between window starts (default: the manifest's hop).")] = None,
    providers: ProvidersOpt = "auto",
    threads: ThreadsOpt = None,
    precision: PrecisionOpt = "fp32",
    batch: Annotated[int, typer.Option(
        "--batch", min=1, help="Most windows scored per onnxruntime call.")] = 32,
    alert_k: Annotated[int | None, typer.Option(
        "--alert-k", min=1,
        help="Raise an alert when at least this many of the last M windows score above the threshold "
             f"(default: the manifest's calibrated 'alert', else {DEFAULT_K}).")
    ] = None,
    alert_m: Annotated[int | None, typer.Option(
        "--alert-m", min=1, help="How many recent windows (M) the alert looks at "
                                 f"(default: the manifest's 'alert', else {DEFAULT_M}).")] = None,
    clear_k: Annotated[int | None, typer.Option(
        "--clear-k", min=1,
        help="Clear a raised alert when fewer than this many of the last M windows are above the threshold "
             f"(at most alert-k; smaller = stickier alert; default: the manifest's, else {DEFAULT_CLEAR_K}).")
    ] = None,
    threshold: Annotated[float | None, typer.Option(
        "--threshold", help="Anomaly threshold (default: the manifest's calibrated one; with a wearer baseline on, "
                            "a threshold on the wearer-adjusted score).")] = None,
    smoothing: Annotated[int | None, typer.Option(
        "--smoothing", min=1,
        help="Report the class of the mean probabilities of the last K windows (1: each window alone; "
             "default: the manifest's 'smoothing', chosen on validation people, else 1).")] = None,
    sequence: Annotated[bool | None, typer.Option(
        "--sequence/--no-sequence",
        help="Decode the class through the manifest's sequence filter (which activity can follow which, learnt "
             "from the training recordings; causal). Default: on when the manifest has a 'sequence'.")] = None,
    mounting: Annotated[str | None, typer.Option(
        "--mounting",
        help="auto: estimate from the stream whether the phone is clipped on turned around (180 degrees about its "
             "long axis) and turn such windows back (the default when the manifest has a 'mounting'); worn: take "
             "the windows as they come; turned: the phone is turned around, turn every window back.")] = None,
    wearer_baseline: Annotated[bool | None, typer.Option(
        "--wearer-baseline/--no-wearer-baseline",
        help="Alert on the score minus this wearer's own running baseline of the window's class (causal), with "
             "the operating point fitted for it. Default: on when the manifest's 'alert' has a "
             "'wearer_baseline'.")] = None,
    gate: Annotated[bool | None, typer.Option(
        "--alert-gate/--no-alert-gate",
        help="With the wearer baseline: only windows the classifier calls one of the gate's classes (those the "
             "held-out activity was called in the training people's recordings) can raise an alert, at the point "
             "fitted for it. Default: on when the manifest's 'alert.wearer_baseline' has a 'gate'.")] = None,
    posture: Annotated[bool | None, typer.Option(
        "--posture/--no-posture",
        help="Let the manifest's posture model (a linear model of where gravity points and, where the manifest "
             "says so, how much the body sways, fitted on the training people) decide between its two still "
             "postures, e.g. sitting and standing. Default: on when the manifest has a 'posture'.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Score a sensor stream window by window: one JSON line per window, then a summary line.

    Windows holding NaN/inf values or unreadable CSV rows are skipped and counted, never scored; the
    final partial window is dropped and counted. Wrong channels, an empty input or a time column more
    than 5% off the bundle's sample rate stop with one line on stderr and exit code 2.
    """
    with _user_errors():
        b = _load(bundle, providers, threads, precision)
        scorer = StreamScorer(b, hop=hop, batch=batch, alert_k=alert_k, alert_m=alert_m, clear_k=clear_k,
                              threshold=threshold, smoothing=smoothing, sequence=sequence,
                              mounting=mounting, wearer_baseline=wearer_baseline, posture=posture, gate=gate)
        if scorer.wearer is not None and threshold is not None:
            wb = scorer.bundle.manifest.alert.wearer_baseline
            own = wb.gate if scorer.gate is not None else wb
            print(f"note: --threshold {threshold:g} applies to the wearer-adjusted score (the bundle's is "
                  f"{own.threshold:g}; --no-wearer-baseline for the plain score)", file=sys.stderr)
        # stdin may be a live feed: hand over every hop's worth of rows so events come out promptly.
        reader = SampleReader(input, scorer.channels, b.sample_rate_hz,
                              chunk_rows=scorer.hop if input == "-" else 4096)
        if reader.stats.note():
            print(reader.stats.note(), file=sys.stderr)
        table = None if as_json or not _tty() else StreamTable(reader.stats.has_time)
        out = sys.stdout
        if table:
            out.write(f"{b.path} ({b.precision}): {b.provider_note}\n{table.header}\n")
        for samples, times in reader:
            for e in scorer.feed(samples, times):
                out.write((table.row(e) if table else json.dumps(e)) + "\n")
            out.flush()
        summary = scorer.flush(reader.stats.as_dict())
        out.write((summary_text(summary) if table else json.dumps(summary)) + "\n")
        out.flush()


# ---- bench --------------------------------------------------------------------------------------
@app.command()
def bench(
    bundle: BundleArg,
    providers: ProvidersOpt = "auto",
    threads: ThreadsOpt = None,
    precision: PrecisionOpt = "fp32",
    batch_sizes: Annotated[str, typer.Option(
        "--batch-sizes", help="Comma list of batch sizes to time.")] = "1,32",
    runs: Annotated[int, typer.Option(
        "--runs", min=1, help="Timed runs per graph and batch size (the median is reported).")] = 30,
    warmup: Annotated[int, typer.Option(
        "--warmup", min=0, help="Untimed runs first (allocations, provider set-up).")] = 3,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Also write the JSON report to this file.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Time each graph's latency and throughput on realistic random input: a table on a terminal,
    the JSON report when stdout is a pipe or file (or with --json)."""
    from ssvae_edge.bench import bench as run_bench

    with _user_errors():
        try:
            sizes = [int(s) for s in batch_sizes.split(",") if s.strip()]
        except ValueError:
            raise _fail(f"--batch-sizes must be a comma list of integers, got {batch_sizes!r}") from None
        b = _load(bundle, providers, threads, precision)
        report = run_bench(b, sizes, runs=runs, warmup=warmup)
        report["precisions"] = b.precisions
        text = json.dumps(report, indent=2)
        if out is not None:
            tmp = out.with_name(out.name + ".tmp")
            tmp.write_text(text + "\n")
            tmp.replace(out)  # atomic: a reader never sees half a report
        typer.echo(text if as_json or not _tty() else bench_table(report))


# ---- web ----------------------------------------------------------------------------------------
@app.command()
def web(
    bundle: BundleArg,
    out: Annotated[Path, typer.Option(
        "--out", "-o", show_default=False,
        help="Folder to write the site to (created; refused if it exists and is not empty, see --force).")],
    recording: Annotated[list[Path] | None, typer.Option(
        "--recording", "-r", metavar="CSV", show_default=False,
        help="A CSV recording (the columns 'ssvae-edge stream' reads) to copy into the site's recordings/ "
             "folder, offered in the page and replayable with index.html?replay=recordings/NAME; repeatable.")
    ] = None,
    force: Annotated[bool, typer.Option(help=cliconv.FORCE_HELP.replace("run, bundle or demo folder",
                                                                        "site written by this command"))] = False,
    serve: Annotated[int | None, typer.Option(
        "--serve", metavar="[PORT]", is_flag=False, flag_value=8000, min=0, max=65535, show_default=False,
        help="Then serve the site on http://127.0.0.1:PORT (default 8000) until Ctrl-C, for a quick look on "
             "this machine (localhost is a secure context). A phone needs HTTPS: see the README.")] = None,
) -> None:
    """Write a static web site that runs a sensor bundle in the browser, on the phone's own motion sensors.

    The page (onnxruntime-web, wasm backend, one thread, vendored: nothing is fetched from the network)
    checks the sha256 of the classifier and anomaly graphs against the manifest, then scores a CSV
    recording the user picks or, for a bundle whose channels are the phone's acc_x..z (g) and gyro_x..z
    (rad/s), the live DeviceMotion sensors resampled to the manifest's rate. Windows, hop, classes,
    anomaly scores and the alert debounce are the ones 'ssvae-edge stream' gives. Host the folder on any
    static HTTPS server to open it on a phone (motion sensors and SubtleCrypto need a secure context).
    """
    from ssvae_edge.web import build_site, page_bytes

    with _user_errors():
        site = build_site(bundle, out, recording or [], force=force)
        typer.echo(f"wrote {site.path}: {len(site.files)} files, page weight {page_bytes(site) / 1e6:.1f} MB "
                   f"(open index.html over HTTPS or localhost)")
        if serve is not None:
            from ssvae_edge.webserve import make_server

            server = make_server(site.path, serve)
            typer.echo(f"serving {site.path} on http://127.0.0.1:{server.server_port}/ (Ctrl-C stops)")
            try:
                server.serve_forever()
            finally:
                server.server_close()


def main() -> None:
    """Entry point of the `ssvae-edge` script."""
    ort.set_default_logger_severity(3)  # onnxruntime's own warnings would interleave with our output
    cliconv.run(app, PROG)


if __name__ == "__main__":
    main()
