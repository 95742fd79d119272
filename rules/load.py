"""Loading, validating and compiling the rule files into a RuleSet.

Exceptions (all carry a message naming the file, the scenario and the field):

    RulesError                  base: anything wrong with the rules
    ├── RuleFileError           a file is unreadable, not YAML, has a duplicate key,
    │                           or breaks the schema (typo, missing field, bad regex)
    │                           or the labelled corpus has a bad line or unknown scenario,
    │                           or the model file is unreadable, stale or knows a scenario
    │                           the rules do not
    ├── CatalogueMismatch       the rules disagree with rules/catalogue/scenarios.csv
    │                           (missing or extra scenario, differing catalogue fact)
    └── UnknownScenario         a caller asked for a scenario id that does not exist
"""

from __future__ import annotations

import csv
import gc
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from cityops.domain.models import ScenarioRef
from cityops.rules.alarms import AlarmMatcher
from cityops.rules.cues import CueSplitter
from cityops.rules.model import TRIAGE, LabelledText, ModelData, Scorer, corpus_digest
from cityops.rules.schema import CategoryFile, EngineConfig, ScenarioRule, ScenarioSettings
from cityops.rules.text import TextMatcher

RULES_DIR = Path(__file__).parent / "scenarios"
CATALOGUE = Path(__file__).parent / "catalogue" / "scenarios.csv"
ENGINE_FILE = "_engine.yaml"
# Labelled texts the learned scorer is trained on (benchmarks/build_corpus.py writes it).
CORPUS = Path(__file__).parent / "corpus" / "labelled.jsonl"
# The learned scorer, built from CORPUS by `cityops rules build-model` (rules/model.py).
MODEL = Path(__file__).parent / "model" / "classifier.npz"


class RulesError(Exception):
    """Base of every rules problem."""


class RuleFileError(RulesError):
    def __init__(
        self, file: Path | str, problem: str, scenario: str | None = None, field: str | None = None
    ) -> None:
        where = [str(file)]
        if scenario:
            where.append(f"scenario {scenario}")
        if field:
            where.append(f"field {field}")
        super().__init__(f"{': '.join(where)}: {problem}")
        self.file = str(file)
        self.scenario = scenario
        self.field = field


class CatalogueMismatch(RulesError):
    pass


class UnknownScenario(RulesError, KeyError):
    def __init__(self, scenario_id: str) -> None:
        super().__init__(f"unknown scenario id {scenario_id!r}: not in the rules catalogue")
        self.scenario_id = scenario_id

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


# --------------------------------------------------------------------------- YAML


class _StrictLoader(yaml.CSafeLoader):
    """The C safe loader (fast), refusing duplicate keys instead of keeping the last."""


def _no_duplicates(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


def _read_yaml(path: Path) -> tuple[Any, bytes]:
    try:
        raw = path.read_bytes()
        return yaml.load(raw, Loader=_StrictLoader), raw  # a CSafeLoader subclass
    except OSError as exc:
        raise RuleFileError(path, f"cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise RuleFileError(path, f"not valid YAML: {exc}") from exc


def _schema_error(path: Path, data: Any, exc: ValidationError) -> RuleFileError:
    """The first schema error, with the scenario id and dotted field path."""
    error = exc.errors()[0]
    loc = list(error["loc"])
    scenario = None
    if len(loc) >= 2 and loc[0] == "scenarios" and isinstance(loc[1], int):
        try:
            scenario = str(data["scenarios"][loc[1]].get("id", f"#{loc[1] + 1}"))
        except (KeyError, IndexError, TypeError, AttributeError):
            scenario = f"#{loc[1] + 1}"
        loc = loc[2:]
    field = ".".join(str(part) for part in loc) or None
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return RuleFileError(path, f"{error['msg']}{more}", scenario=scenario, field=field)


# --------------------------------------------------------------------------- rule set


@dataclass(frozen=True)
class Category:
    id: str
    name_zh: str
    name_en: str
    file: str
    scenario_ids: tuple[str, ...]


class RuleSet:
    """All scenarios, compiled matchers and the rules version. Immutable once built."""

    def __init__(
        self,
        engine: EngineConfig,
        categories: list[tuple[Path, CategoryFile]],
        version: str,
        model: Scorer | None = None,
    ) -> None:
        self.version = version
        self.model = model  # the learned scorer; None: rules alone
        self.engine = engine
        self.cues = CueSplitter(engine.cues)
        self._rules: dict[str, ScenarioRule] = {}
        self._refs: dict[str, ScenarioRef] = {}
        self.categories: list[Category] = []
        for path, category in categories:
            self.categories.append(
                Category(
                    category.category_id,
                    category.category_zh,
                    category.category_en,
                    path.name,
                    tuple(s.id for s in category.scenarios),
                )
            )
            for rule in category.scenarios:
                if rule.id in self._rules:
                    raise RuleFileError(path, "duplicate scenario id", scenario=rule.id, field="id")
                self._rules[rule.id] = rule
                self._refs[rule.id] = _ref(category, rule)
        self.scenario_ids = frozenset(self._rules)
        self.text = TextMatcher({sid: r.text for sid, r in self._rules.items()}, engine)
        self.alarms = AlarmMatcher({sid: r.alarms for sid, r in self._rules.items()})

    def scenario(self, scenario_id: str) -> ScenarioRef:
        try:
            return self._refs[scenario_id]
        except KeyError:
            raise UnknownScenario(scenario_id) from None

    def rule(self, scenario_id: str) -> ScenarioRule:
        try:
            return self._rules[scenario_id]
        except KeyError:
            raise UnknownScenario(scenario_id) from None

    def settings(self, scenario_id: str) -> ScenarioSettings:
        return self.rule(scenario_id).settings

    @property
    def rules(self) -> list[ScenarioRule]:
        return list(self._rules.values())


def _ref(category: CategoryFile, rule: ScenarioRule) -> ScenarioRef:
    return ScenarioRef(
        id=rule.id,
        name_zh=rule.name_zh,
        name_en=rule.name_en,
        category_id=category.category_id,
        category_zh=category.category_zh,
        category_en=category.category_en,
        dimension=rule.dimension,
        priority=rule.priority,
        lead_department=rule.lead_department,
        handling_tier=rule.handling_tier,
        closure_check=rule.closure_check,
    )


def _check_vocab_refs(path: Path, category: CategoryFile, engine: EngineConfig) -> None:
    for rule in category.scenarios:
        terms = [(f"text.combos.{c.name}", t) for c in rule.text.combos for g in c.all for t in g]
        terms += [(f"text.patterns.{p.name}.gate", t) for p in rule.text.patterns for t in p.gate]
        for field, term in terms:
            if term.startswith("@") and term[1:] not in engine.vocab:
                raise RuleFileError(
                    path,
                    f"unknown vocabulary {term!r} (define it in {ENGINE_FILE} vocab)",
                    scenario=rule.id,
                    field=field,
                )


def check_catalogue(rule_set: RuleSet, catalogue: Path = CATALOGUE) -> None:
    """The rules must hold exactly the catalogue's scenarios, with the same facts."""
    with catalogue.open(encoding="utf-8", newline="") as handle:
        rows = {row["id"]: row for row in csv.DictReader(handle)}
    missing = sorted(set(rows) - rule_set.scenario_ids)
    extra = sorted(rule_set.scenario_ids - set(rows))
    if missing or extra:
        raise CatalogueMismatch(
            f"rules and {catalogue.name} disagree: missing {missing or 'none'}, "
            f"not in catalogue {extra or 'none'}"
        )
    files = {sid: c.file for c in rule_set.categories for sid in c.scenario_ids}
    for sid, row in rows.items():
        ref = rule_set.scenario(sid)
        facts = ref.model_dump(mode="json")
        facts["sources"] = "|".join(rule_set.rule(sid).sources)
        for field, expected in row.items():
            if field != "id" and str(facts[field]) != expected:
                raise CatalogueMismatch(
                    f"{files[sid]}: scenario {sid}: field {field}: rules say "
                    f"{facts[field]!r}, {catalogue.name} says {expected!r}"
                )


def read_corpus(path: Path) -> tuple[list[LabelledText], bytes]:
    """JSON lines {id, text, expected_scenario}; a bad line names its number and field."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RuleFileError(path, f"cannot read: {exc}") from exc
    texts = []
    for number, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RuleFileError(path, f"line {number}: not JSON: {exc.msg}") from exc
        if not isinstance(row, dict):
            raise RuleFileError(path, f"line {number}: expected a JSON object")
        for field in ("id", "text"):
            if not isinstance(row.get(field), str) or not row[field]:
                raise RuleFileError(path, f"line {number}: missing or empty", field=field)
        expected = row.get("expected_scenario")
        if expected is not None and not isinstance(expected, str):
            raise RuleFileError(
                path, f"line {number}: a scenario id or null", field="expected_scenario"
            )
        texts.append(LabelledText(row["id"], row["text"], expected))
    return texts, raw


def _check_corpus_labels(path: Path, texts: list[LabelledText], rule_set: RuleSet) -> None:
    """Checked after the rules themselves, so a rules problem is reported first."""
    for text in texts:
        if text.scenario_id is not None and text.scenario_id not in rule_set.scenario_ids:
            raise RuleFileError(
                path,
                f"text {text.id}: unknown scenario {text.scenario_id!r}",
                field="expected_scenario",
            )


def _read_model(path: Path, corpus_raw: bytes) -> tuple[Scorer, bytes]:
    """The built model, refused when it was trained on another corpus than this one."""
    try:
        raw = path.read_bytes()
        data = ModelData.load(path)
    except (OSError, ValueError, KeyError) as exc:
        raise RuleFileError(
            path, f"cannot read the model: {exc} (rebuild it: cityops rules build-model)"
        ) from exc
    if data.corpus_sha256 != corpus_digest(corpus_raw):
        raise RuleFileError(
            path,
            "stale: trained on another version of the corpus "
            "(rebuild it: cityops rules build-model)",
        )
    return Scorer(data), raw


def _check_model_classes(path: Path, scorer: Scorer, rule_set: RuleSet) -> None:
    unknown = sorted(set(scorer.classes) - rule_set.scenario_ids - {TRIAGE})
    if unknown:
        raise RuleFileError(
            path,
            f"the model knows scenarios the rules do not: {unknown} "
            "(rebuild it: cityops rules build-model)",
        )


def load_rules(
    directory: Path = RULES_DIR,
    catalogue: Path | None = CATALOGUE,
    corpus: Path | None = CORPUS,
    model: Path | None = MODEL,
) -> RuleSet:
    """Read, validate and compile every rule file; check them against the catalogue.

    `corpus` and `model` (either None: rules alone) are the labelled texts and the
    learned scorer built from them; the model must have been built from this corpus.
    Both files' bytes are part of the rules version.
    """
    with _cyclic_gc_paused():
        return _load_rules(directory, catalogue, corpus, model)


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Compile without the cyclic garbage collector, then restore its previous state.

    Why: compiling makes ~100,000 small tuples, dicts and lists (automaton values, the
    model's vocabulary); every few hundred allocations the collector would rescan the
    growing heap, a sixth of the load time, and none of it is garbage yet.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _load_rules(
    directory: Path, catalogue: Path | None, corpus: Path | None, model: Path | None
) -> RuleSet:
    engine_path = directory / ENGINE_FILE
    if not engine_path.exists():
        raise RuleFileError(engine_path, "missing engine settings file")
    digest = hashlib.sha256()
    data, raw = _read_yaml(engine_path)
    digest.update(raw)
    try:
        engine = EngineConfig.model_validate(data)
    except ValidationError as exc:
        raise _schema_error(engine_path, data, exc) from exc
    categories: list[tuple[Path, CategoryFile]] = []
    paths = sorted(p for p in directory.glob("*.yaml") if p.name != ENGINE_FILE)
    if not paths:
        raise RuleFileError(directory, "no category rule files (*.yaml)")
    for path in paths:
        data, raw = _read_yaml(path)
        digest.update(path.name.encode() + b"\0" + raw)
        try:
            category = CategoryFile.model_validate(data)
        except ValidationError as exc:
            raise _schema_error(path, data, exc) from exc
        _check_vocab_refs(path, category, engine)
        categories.append((path, category))
    labelled: list[LabelledText] = []
    scorer = None
    if corpus is not None and model is not None:
        labelled, raw = read_corpus(corpus)
        digest.update(b"corpus\0" + raw)
        scorer, model_raw = _read_model(model, raw)
        digest.update(b"model\0" + model_raw)
    rule_set = RuleSet(engine, categories, f"r-{digest.hexdigest()[:8]}", scorer)
    if catalogue is not None:
        check_catalogue(rule_set, catalogue)
    if corpus is not None and scorer is not None and model is not None:
        _check_corpus_labels(corpus, labelled, rule_set)
        _check_model_classes(model, scorer, rule_set)
    return rule_set


@lru_cache(maxsize=1)
def default_rules() -> RuleSet:
    """The packaged rules, loaded once per process."""
    return load_rules()
