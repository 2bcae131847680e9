"""The worker's PyAV ladder beside the ffmpeg CLI doing the same work, measured in one run.

Source: a generated 10 s 1920x1080 30 fps H.264 clip with stereo AAC. Work: decode once, make the
default ladder (1080p and 720p, H.264 High with the worker's own x264 settings, AAC stereo, MP4
faststart). The CLI is the static ffmpeg of imageio-ffmpeg, one command with a split filter and the
same scaler and encoder options (built from the worker's own option function). The PyAV side also
writes the thumbnail, which the CLI side does not: a little extra work on the PyAV side.

Rounds alternate PyAV and CLI so that both see the same machine load; medians are reported, of wall
time (the figure that matters) and of CPU time (all threads; steadier when other work shares the machine).
Run: ``gpu/.venv/bin/python gpu/bench/ladder.py [--rounds N] [--naive]`` (``make bench`` runs it).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av
import imageio_ffmpeg
from av.video.frame import PictureType

from codex_contracts.transcode import DEFAULT_LADDER, Limits
from codex_gpu.encoders import X264, CodecChoice, video_options
from codex_gpu.ladder import RenditionPlan, plan_ladder
from codex_gpu.pipeline import transcode
from codex_gpu.probe import probe
from codex_gpu.rendition import SCALER
from codex_gpu.settings import Settings

DURATION_S = 10
SETTINGS = Settings()


def make_source(path: Path) -> None:
    with av.open(str(path), "w") as output:
        video = output.add_stream("libx264", rate=30, options={"preset": "veryfast", "crf": "18"})
        video.width, video.height, video.pix_fmt = 1920, 1080, "yuv420p"
        sound = output.add_stream("aac", rate=48000)
        sound.layout = "stereo"
        with av.open(f"testsrc2=size=1920x1080:rate=30:duration={DURATION_S}", format="lavfi") as pattern:
            for frame in pattern.decode(video=0):
                frame.pict_type = PictureType.NONE
                output.mux(video.encode(frame))
        output.mux(video.encode(None))
        spec = f"sine=frequency=440:duration={DURATION_S}:sample_rate=48000"
        with av.open(spec, format="lavfi") as tone:
            for frame in tone.decode(audio=0):
                frame.pts = None
                output.mux(sound.encode(frame))
        output.mux(sound.encode(None))


def plans_for(source: Path) -> list[RenditionPlan]:
    info = probe(source, Limits())
    return plan_ladder(info.display_width, info.display_height, info.fps, DEFAULT_LADDER)


def run_pyav(source: Path, out: Path) -> float:
    started = time.perf_counter()
    info = probe(source, Limits())
    plans = plan_ladder(info.display_width, info.display_height, info.fps, DEFAULT_LADDER)
    transcode(
        info, plans, out, choice=CodecChoice(encoder=X264, nvdec=False), settings=SETTINGS, max_duration_s=1e9
    )
    return time.perf_counter() - started


def run_naive(source: Path, out: Path) -> float:
    """The straightforward PyAV ladder: one thread, PyAV's default (slice) codec threading."""
    started = time.perf_counter()
    plans = plans_for(source)
    with av.open(str(source)) as container:
        outputs = []
        for plan in plans:
            output = av.open(str(out / f"naive-{plan.name}.mp4"), "w", options={"movflags": "+faststart"})
            video = output.add_stream(X264, rate=plan.fps, options=video_options(X264, plan, SETTINGS))
            video.width, video.height, video.pix_fmt = plan.width, plan.height, "yuv420p"
            sound = output.add_stream("aac", rate=48000)
            sound.layout, sound.bit_rate = "stereo", plan.rung.audio_bitrate_kbps * 1000
            outputs.append((plan, output, video, sound))
        for packet in container.demux():
            for frame in packet.decode():
                for plan, output, video, sound in outputs:
                    if isinstance(frame, av.VideoFrame):
                        frame.pict_type = PictureType.NONE
                        scaled = frame.reformat(plan.width, plan.height, "yuv420p", interpolation=SCALER)
                        output.mux(video.encode(scaled))
                    else:
                        output.mux(sound.encode(frame))
        for _plan, output, video, sound in outputs:
            output.mux(video.encode(None))
            output.mux(sound.encode(None))
            output.close()
    return time.perf_counter() - started


def cli_command(source: Path, out: Path, plans: list[RenditionPlan]) -> list[str]:
    scaler = SCALER.name.lower()
    splits = "".join(f"[s{i}]" for i in range(len(plans)))
    graph = [f"[0:v]split={len(plans)}{splits}"]
    graph += [
        f"[s{i}]scale={p.width}:{p.height}:flags={scaler},format=yuv420p[v{i}]" for i, p in enumerate(plans)
    ]
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(source)]
    command += ["-filter_complex", ";".join(graph)]
    for i, plan in enumerate(plans):
        command += ["-map", f"[v{i}]", "-map", "0:a", "-c:v", X264, "-r", str(plan.fps)]
        for key, value in video_options(X264, plan, SETTINGS).items():
            flag = {"preset": "-preset:v", "profile": "-profile:v", "crf": "-crf"}.get(key, f"-{key}")
            command += [flag, value]
        command += ["-c:a", "aac", "-b:a", f"{plan.rung.audio_bitrate_kbps}k", "-ac", "2", "-ar", "48000"]
        command += ["-movflags", "+faststart", str(out / f"cli-{plan.name}.mp4")]
    return command


def run_cli(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - started


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(kind: str, run: Callable[[], float], cpu: dict[str, list[float]]) -> float:
    """Wall seconds of ``run``, and its CPU seconds (all threads, or the child process) into ``cpu``."""
    before = children_cpu() if kind == "cli" else time.process_time()
    wall = run()
    after = children_cpu() if kind == "cli" else time.process_time()
    cpu[kind].append(after - before)
    return wall


def describe(path: Path) -> str:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        frames = sum(1 for _ in container.demux(video)) - 1
        size = path.stat().st_size
        return f"{video.width}x{video.height} {frames} frames {size / 1e6:.2f} MB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--naive", action="store_true", help="also time the straightforward PyAV ladder")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="codex-gpu-bench-") as tmp:
        work = Path(tmp)
        source = work / "source.mp4"
        make_source(source)
        plans = plans_for(source)
        command = cli_command(source, work, plans)
        print(
            f"source: {DURATION_S} s 1920x1080 30 fps H.264 + AAC; ladder: "
            + ", ".join(f"{p.name} {p.width}x{p.height}" for p in plans)
        )
        print(
            f"x264 preset {SETTINGS.x264_preset}; PyAV {av.__version__} (FFmpeg {av.ffmpeg_version_info}); "
            f"CLI {Path(command[0]).name}; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
        )
        print("ffmpeg CLI: " + " ".join(Path(c).name if c == command[0] else c for c in command))

        run_pyav(source, work)  # warm-up: first-use costs (imports, page cache) on neither side's clock
        times: dict[str, list[float]] = {"pyav": [], "cli": [], "naive": []}
        cpu: dict[str, list[float]] = {"pyav": [], "cli": [], "naive": []}
        for number in range(1, args.rounds + 1):
            times["pyav"].append(timed("pyav", lambda: run_pyav(source, work), cpu))
            times["cli"].append(timed("cli", lambda: run_cli(command), cpu))
            if args.naive:
                times["naive"].append(timed("naive", lambda: run_naive(source, work), cpu))
            laps = ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items() if v)
            print(f"round {number}: {laps}", flush=True)

        for plan in plans:
            print(
                f"{plan.name}: PyAV {describe(work / f'{plan.name}.mp4')} | "
                f"CLI {describe(work / f'cli-{plan.name}.mp4')}"
            )
        cli, cli_cpu = statistics.median(times["cli"]), statistics.median(cpu["cli"])
        print(f"ffmpeg CLI : {cli:6.2f} s  {DURATION_S / cli:5.2f}x realtime  CPU {cli_cpu:5.1f} s")
        for name, label in (("pyav", "PyAV ladder"), ("naive", "PyAV naive ")):
            if times[name]:
                wall, used = statistics.median(times[name]), statistics.median(cpu[name])
                print(
                    f"{label}: {wall:6.2f} s  {DURATION_S / wall:5.2f}x realtime  CPU {used:5.1f} s  "
                    f"ratio {wall / cli:.2f}x the CLI's time, {used / cli_cpu:.2f}x its CPU"
                )
        print(f"load after: {os.getloadavg()[0]:.1f} (other work on this machine shifts both sides alike)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
