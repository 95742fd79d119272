"""Rules commands: `cityops rules check|build-model`, `cityops classify [--eval]`,
`cityops bench classify`.

None of them needs a server: they load the YAML rules and run the pure engine.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from cityops.config import DEV_HOTLINE
from cityops.domain.models import AlarmEvent, Classification, TicketIntake
from cityops.domain.stages import Source
from cityops.rules.build import build_file
from cityops.rules.classify import classify, classify_many
from cityops.rules.load import CORPUS, MODEL, RULES_DIR, RulesError, RuleSet, load_rules
from cityops.rules.model import ModelData, Scorer, corpus_digest

rules_app = typer.Typer(
    help="The classification rules: validate and summarise.", no_args_is_help=True
)

RulesDirOpt = Annotated[
    Path, typer.Option("--rules", help="Directory of rule files (default: the packaged rules)")
]


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


def _load(directory: Path) -> RuleSet:
    try:
        return load_rules(directory)
    except RulesError as exc:
        raise _fail(str(exc)) from exc


# --------------------------------------------------------------------------- input lines


@dataclass(frozen=True)
class InputLine:
    """One JSONL line as an intake, with its label when the file carries one."""

    number: int
    intake: TicketIntake
    expected: str | None
    labelled: bool


@dataclass(frozen=True)
class BadLine:
    number: int
    problem: str


def read_input_lines(file: Path) -> Iterator[InputLine | BadLine]:
    """Hotline records or alarm events, autodetected per line; bad lines are reported, not fatal."""
    try:
        handle = file.open(encoding="utf-8")
    except OSError as exc:
        raise _fail(f"{file}: cannot read: {exc}") from exc
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                yield BadLine(number, f"not JSON: {exc.msg} at column {exc.colno}")
                continue
            if not isinstance(record, dict):
                yield BadLine(number, "expected a JSON object")
                continue
            try:
                intake = intake_from_record(record, number)
            except ValidationError as exc:
                yield BadLine(number, _field_errors(exc))
                continue
            except ValueError as exc:
                yield BadLine(number, str(exc))
                continue
            yield InputLine(
                number, intake, record.get("expected_scenario"), "expected_scenario" in record
            )


def intake_from_record(record: dict[str, Any], number: int) -> TicketIntake:
    """An alarm event (has event_id and sensor_type) or a hotline record, as a TicketIntake."""
    if "event_id" in record or "sensor_type" in record:
        alarm = AlarmEvent.model_validate(record)
        return TicketIntake(
            ticket_id=alarm.event_id[:64],
            source=Source.VIDEO if alarm.sensor_type == "video_ai" else Source.IOT,
            text=alarm.site,
            lat=alarm.lat,
            lon=alarm.lon,
            received_at=alarm.occurred_at,
            external_id=alarm.event_id[:64],
            alarm=alarm,
        )
    if not record.get("text") and not record.get("service_code"):
        raise ValueError("field text: missing (a hotline record needs text)")
    fields = {
        key: record[key]
        for key in ("text", "address", "lat", "lon", "caller_name", "caller_phone", "service_code")
        if record.get(key) is not None
    }
    return TicketIntake(
        ticket_id=str(record.get("id") or f"line-{number}"),
        source=record.get("source") or Source.HOTLINE,
        received_at=record.get("received_at") or datetime.now().astimezone(),
        external_id=str(record["id"]) if record.get("id") else None,
        **fields,
    )


def _field_errors(exc: ValidationError) -> str:
    """Every field problem of a record, one after another."""
    return "; ".join(
        f"field {'.'.join(str(part) for part in error['loc']) or 'record'}: {error['msg']}"
        for error in exc.errors()
    )


def _output(intake: TicketIntake, result: Classification) -> dict[str, Any]:
    return {
        "id": intake.ticket_id,
        "scenario": result.scenario.id if result.scenario else None,
        "confidence": result.confidence,
        "matched": [m.model_dump() for m in result.matched],
        "candidates": [c.model_dump() for c in result.candidates],
        "secondary": result.secondary.scenario.id if result.secondary else None,
        "suggested": result.suggested,  # the engine's reading when a service code overrode it
        "reason": result.reason,
        "rules_version": result.rules_version,
    }


# --------------------------------------------------------------------------- commands


@rules_app.command("check")
def check(rules_dir: RulesDirOpt = RULES_DIR) -> None:
    """Validate every rule file, run the examples in them, and print a summary."""
    started = time.perf_counter()
    rules = _load(rules_dir)
    elapsed_ms = (time.perf_counter() - started) * 1000
    typer.echo(f"rules {rules.version}: valid, loaded in {elapsed_ms:.0f} ms from {rules_dir}")
    typer.echo(
        f"{len(rules.scenario_ids)} scenarios in {len(rules.categories)} categories "
        "(matches rules/catalogue/scenarios.csv)"
    )
    for category in rules.categories:
        typer.echo(
            f"  {category.id} {category.name_zh} ({category.file}): "
            f"{len(category.scenario_ids)} — {' '.join(category.scenario_ids)}"
        )
    sources = Counter(source.value for rule in rules.rules for source in rule.sources)
    typer.echo("sources covered: " + ", ".join(f"{s} {n}" for s, n in sorted(sources.items())))
    alarm_rules = [a for rule in rules.rules for a in rule.alarms]
    sensors = sorted({a.sensor_type for a in alarm_rules})
    detections = sorted({a.detection for a in alarm_rules if a.detection})
    typer.echo(
        f"alarm rules {len(alarm_rules)}: {len(sensors)} sensor types, "
        f"{len(detections)} video detections"
    )
    keywords = sum(len(rule.text.keywords) for rule in rules.rules)
    combos = sum(len(rule.text.combos) for rule in rules.rules)
    typer.echo(
        f"text rules: {keywords} weighted phrases, {combos} combos, "
        f"{len(rules.engine.out_of_scope)} out-of-scope phrases, "
        f"threshold {rules.engine.threshold:g}"
    )
    _model_summary(rules)
    failures = _run_examples(rules)
    total = sum(len(r.examples) + len(r.counter_examples) for r in rules.rules)
    typer.echo(f"examples: {total - len(failures)}/{total} pass")
    for failure in failures:
        typer.secho(f"  FAIL {failure}", fg=typer.colors.RED)
    if failures:
        raise typer.Exit(1)


def _model_summary(rules: RuleSet) -> None:
    if rules.model is None:
        typer.echo("learned scorer: none (rules alone)")
        return
    data = rules.model.data
    figures = data.figures
    typer.echo(
        f"corpus: {figures.get('texts')} labelled texts, {len(data.classes) - 1} scenarios "
        f"+ out of scope (sha256 {data.corpus_sha256[:12]}, matches the model)"
    )
    line = (
        f"model: {figures.get('features')} character 1-{data.settings.max_n} grams, "
        f"LinearSVC C={data.settings.c:g} calibrated (sigmoid, {data.settings.folds}-fold)"
    )
    if "cv_accuracy" in figures:
        line += (
            f"; cross-validated accuracy {figures['cv_right']}/{figures['cv_total']} = "
            f"{figures['cv_accuracy']:.1%} (model alone)"
        )
    typer.echo(line)
    blend = rules.engine.model
    typer.echo(
        f"blend: rules weight {blend.rules_weight:g}, threshold {blend.threshold:g}, "
        f"model alone {blend.alone_threshold:g}"
    )


@rules_app.command("build-model")
def build_model(
    corpus: Annotated[Path, typer.Option(help="Labelled JSON lines to train on")] = CORPUS,
    output: Annotated[Path, typer.Option(help="Model file to write")] = MODEL,
    check: Annotated[
        bool, typer.Option("--check", help="Rebuild in memory; exit 1 if the file differs")
    ] = False,
) -> None:
    """Train the learned scorer on the corpus (scikit-learn) and write the model file."""
    started = time.perf_counter()
    if check:
        _check_model(corpus, output)
        return
    try:
        data = build_file(corpus, output)
    except RulesError as exc:
        raise _fail(str(exc)) from exc
    elapsed = time.perf_counter() - started
    cpu = time.process_time()  # the whole command's, imports included
    figures = data.figures
    typer.echo(
        f"wrote {output}: {figures['texts']} texts, {figures['classes']} classes, "
        f"{figures['features']} grams in {elapsed:.1f} s by the wall clock (target < 60 s, "
        f"{cpu:.1f} s of CPU; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} "
        "cores); "
        f"{figures['cv_folds']}-fold cross-validated accuracy {figures['cv_accuracy']:.1%}"
    )


def _check_model(corpus: Path, output: Path) -> None:
    """The file must be what `build-model` would write from this corpus: the same
    digest, the code's settings, the same classes and grams, the same answers."""
    from cityops.rules.load import read_corpus
    from cityops.rules.model import ModelSettings, build

    try:
        texts, raw = read_corpus(corpus)
        shipped = ModelData.load(output)
    except (RulesError, OSError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    if shipped.corpus_sha256 != corpus_digest(raw):
        raise _fail(f"{output} is stale: run cityops rules build-model")
    if shipped.settings != ModelSettings():
        # A rebuild uses the code's settings: a file built with others is not what the
        # command gives (checking it against its own settings would hide that).
        raise _fail(
            f"{output} was built with {shipped.settings}, the code builds with "
            f"{ModelSettings()}: run cityops rules build-model"
        )
    rebuilt = build(texts, corpus_digest(raw), ModelSettings(), evaluate=False)
    sample = [t.text for t in texts]
    old = Scorer(shipped).proba_many(sample)
    new = Scorer(rebuilt).proba_many(sample)
    same = shipped.classes == rebuilt.classes and shipped.vocabulary == rebuilt.vocabulary
    if not same or float(abs(old - new).max()) > 1e-3:
        raise _fail(f"{output} does not match a rebuild from {corpus}")
    typer.echo(f"{output}: matches a rebuild from {corpus} ({len(texts)} texts)")


def _run_examples(rules: RuleSet) -> list[str]:
    """Each scenario's examples must classify to it; counter-examples to what they expect."""
    failures = []
    for rule in rules.rules:
        cases: list[tuple[str, str | None]] = [(text, rule.id) for text in rule.examples]
        cases += [(c.text, c.expect) for c in rule.counter_examples]
        for text, want in cases:
            got = rules.text.verdict(text).scenario_id
            if got != want:
                failures.append(f"{rule.id}: {text!r} gave {got}, want {want}")
    return failures


def classify_file(
    file: Annotated[Path, typer.Argument(help="JSON lines: hotline records or alarm events")],
    evaluate: Annotated[
        bool, typer.Option("--eval", help="Compare with expected_scenario and print accuracy")
    ] = False,
    rules_dir: RulesDirOpt = RULES_DIR,
) -> None:
    """Classify each line; print one JSON object per line (or, with --eval, the accuracy)."""
    rules = _load(rules_dir)
    results: list[tuple[InputLine, Classification]] = []
    bad = 0
    for item in read_input_lines(file):
        if isinstance(item, BadLine):
            bad += 1
            typer.secho(
                f"error: {file.name} line {item.number}: {item.problem}",
                fg=typer.colors.RED,
                err=True,
            )
            continue
        if evaluate:
            results.append((item, classify(item.intake, rules)))
        else:
            typer.echo(
                json.dumps(_output(item.intake, classify(item.intake, rules)), ensure_ascii=False)
            )
    if evaluate:
        _report(results, rules, bad)
    if bad:
        raise typer.Exit(2)


def _report(results: list[tuple[InputLine, Classification]], rules: RuleSet, bad: int) -> None:
    labelled = [(line, result) for line, result in results if line.labelled]
    if not labelled:
        raise _fail("no line carries expected_scenario: nothing to evaluate")
    misses = [
        (line, result)
        for line, result in labelled
        if (result.scenario.id if result.scenario else None) != line.expected
    ]
    right = len(labelled) - len(misses)
    typer.echo(f"rules {rules.version}: {len(labelled)} labelled lines, {bad} bad lines")
    typer.echo(f"accuracy {right}/{len(labelled)} = {right / len(labelled):.1%}")
    misrouted = sum(1 for _, result in misses if result.scenario is not None)
    triaged = sum(1 for _, result in labelled if result.scenario is None)
    typer.echo(
        f"misrouted (wrong scenario dispatched) {misrouted}/{len(labelled)} = "
        f"{misrouted / len(labelled):.1%}; triage {triaged}/{len(labelled)} = "
        f"{triaged / len(labelled):.1%}"
    )
    nulls = [(line, result) for line, result in labelled if line.expected is None]
    null_right = sum(1 for _, result in nulls if result.scenario is None)
    typer.echo(
        f"expected null (triage): {null_right}/{len(nulls)} right; "
        f"scenarios: {right - null_right}/{len(labelled) - len(nulls)} right"
    )
    confusion = Counter(
        (line.expected or "null", result.scenario.id if result.scenario else "null")
        for line, result in misses
    )
    if confusion:
        typer.echo("confusion (expected → got: count):")
        for (want, got), count in confusion.most_common():
            typer.echo(f"  {want} → {got}: {count}")
        typer.echo("misses:")
        for line, result in misses:
            chosen = result.scenario.id if result.scenario else None
            text = (line.intake.text or "")[:50]
            typer.echo(
                f"  line {line.number} {line.intake.ticket_id}: want {line.expected}, "
                f"got {chosen} ({result.confidence:g}, {result.reason}) {text}"
            )


def bench_classify(
    file: Annotated[
        Path, typer.Argument(help="Hotline JSON lines whose texts are timed")
    ] = DEV_HOTLINE,
    rounds: Annotated[int, typer.Option(help="Passes over the texts")] = 50,
    rules_dir: RulesDirOpt = RULES_DIR,
) -> None:
    """Texts per second on one core, and the time to load and validate all rules."""
    load_ms = []
    for _ in range(5):
        started = time.perf_counter()
        rules = _load(rules_dir)
        load_ms.append((time.perf_counter() - started) * 1000)
    intakes = [
        item.intake
        for item in read_input_lines(file)
        if isinstance(item, InputLine) and item.intake.alarm is None
    ]
    if not intakes:
        raise _fail(f"{file}: no hotline records to time")
    texts = [intake.text or "" for intake in intakes]

    def text_rules() -> None:
        reading = rules.text.read(texts)
        for row in range(len(texts)):
            reading.verdict(row)

    verdict_rate = _rate(text_rules, len(texts), rounds)
    single_rate = _rate(lambda: [classify(i, rules) for i in intakes], len(intakes), rounds)
    batch_rate = _rate(lambda: classify_many(intakes, rules), len(intakes), rounds)
    model_ms = []
    for _ in range(5):
        started = time.perf_counter()
        Scorer(ModelData.load(MODEL))
        model_ms.append((time.perf_counter() - started) * 1000)
    typer.echo(
        f"load + validate + compile {len(rules.scenario_ids)} scenarios and the model: "
        f"median {statistics.median(load_ms):.0f} ms, best {min(load_ms):.0f} ms "
        f"(model file alone: median {statistics.median(model_ms):.0f} ms; target < 1 s)"
    )
    typer.echo(
        f"texts/s on one core, best of {rounds} passes over {len(texts)} texts, "
        "wall clock (CPU time of this process)"
    )
    typer.echo(f"text rules alone (batch, each text explained): {verdict_rate}")
    typer.echo(f"classify_many() (rules + model, batch): {batch_rate} (target > 10,000)")
    typer.echo(
        f"classify() one at a time (rules + model): {single_rate}, "
        f"{1000 / single_rate.wall:.2f} ms per ticket (target < 2 ms)"
    )
    load = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    typer.echo(f"load average {load:.1f} on {cores} cores while timing")
    if load > cores:
        typer.echo(
            "note: other processes shared the cores, so these figures are low; run again "
            "when the machine is quieter"
        )


@dataclass(frozen=True)
class Rate:
    """Texts per second by the wall clock and by this process's CPU time.

    Why both: on a shared machine the wall clock counts the time another process held
    the core; CPU time does not (though cache contention still slows it).
    """

    wall: float
    cpu: float

    def __str__(self) -> str:
        return f"{self.wall:,.0f} texts/s ({self.cpu:,.0f} by CPU time)"


def _rate(work: Any, per_pass: int, rounds: int) -> Rate:
    work()  # warm up caches before timing
    wall = cpu = float("inf")
    for _ in range(max(rounds, 1)):
        started, started_cpu = time.perf_counter(), time.process_time()
        work()
        cpu = min(cpu, time.process_time() - started_cpu)
        wall = min(wall, time.perf_counter() - started)
    return Rate(per_pass / wall, per_pass / max(cpu, 1e-9))


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    app.add_typer(rules_app, name="rules")
    app.command("classify")(classify_file)
    bench_app.command("classify")(bench_classify)
