"""One fuzz run: the schema bound to the run's target, seeded, hooked, judged; failures
reproducible.

The fuzz suite builds one :class:`Fuzz` from the session's runtime (:meth:`Fuzz.for_runtime`:
its target, auth, rate limit, seed and budget), then calls :meth:`Fuzz.fuzz_operation` per
operation (stateless) or :meth:`Fuzz.state_machine` (stateful). A failure carries the seed, a
curl line with secrets masked, and the failing request sequence saved as a VCR cassette under
`<report dir>/fuzz/`.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import hypothesis
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.feedback import FeedbackSources
from schemathesis.generation.hypothesis.reporting import ignore_hypothesis_output
from schemathesis.generation.stateful.state_machine import APIStateMachine
from schemathesis.pytest._test_builder import build_operation_test
from schemathesis.python._constants.orchestrator import make_constants_value_source
from schemathesis.specs.openapi.schemas import OpenApiSchema
from vcr.serializers import yamlserializer

from wfcontracts.checks.failures import REPRODUCTION_ATTRIBUTE
from wfcontracts.fuzzing import checks as fuzz_checks
from wfcontracts.fuzzing import hooks
from wfcontracts.fuzzing.schema import (
    MOCK_ORIGIN,
    FuzzOptions,
    FuzzTarget,
    load_schema,
    target_for,
)
from wfcontracts.fuzzing.seed import SeedData, seed
from wfcontracts.redact import curl_command, mask_known, scrub_body, scrub_headers, scrub_url
from wfcontracts.target import WriteOutcomeUnknownError

if TYPE_CHECKING:
    from schemathesis import BaseSchema, Case, Response

    from wfcontracts.runtime import Runtime


@dataclass
class Fuzz:
    """A hooked schema aimed at one target; :meth:`attach` seeds it and binds our checks.

    Built (no network) and attached to the session's runtime when the first fuzz test runs.
    """

    options: FuzzOptions
    target: FuzzTarget
    schema: BaseSchema
    rewriter: hooks.CaseRewriter
    report_dir: Path = Path("reports") / "fuzz"
    run: fuzz_checks.FuzzRun | None = None
    seed_data: SeedData | None = None
    cases: int = 0
    #: Generated cases not sent because the time budget was spent (reported, not hidden).
    unsent: int = 0
    #: The flags that aim `--replay-failure` at this run's target (and its faults).
    target_flags: str = ""
    cassettes: list[Path] = field(default_factory=list)
    stateful_failures: list[FailureGroup] = field(default_factory=list)
    #: Cases whose write lost its answer (WriteOutcomeUnknownError): sent, judged by nothing.
    inconclusive: list[str] = field(default_factory=list)
    _feedback: FeedbackSources | None = field(default=None, repr=False)

    @classmethod
    def for_runtime(cls, runtime: Runtime, **overrides: Any) -> Fuzz:
        """A fuzz run aimed at the runtime's target, seeded there, our checks bound.

        The seed data (a probe version, executions in every status) is created on the target.
        """
        options = fuzz_options_from(runtime, **overrides)
        target = target_for(runtime, options)
        schema = load_schema(target, options, runtime.options.contract_path)
        rewriter = hooks.install(schema)
        read_only = runtime.read_only_token
        target.secrets = (*target.secrets, *([read_only] if read_only else []))
        fuzz = cls(options, target, schema, rewriter, runtime.options.report_dir / "fuzz")
        fuzz.target_flags = _target_flags(runtime)
        fuzz.seed_data = seed(runtime)
        fuzz.run = fuzz_checks.bind(schema, runtime.context, read_only_token=read_only)
        live_prefix = runtime.run_prefix if runtime.is_live else None
        rewriter.bind(fuzz.seed_data, runtime.context, live_prefix=live_prefix)
        return fuzz

    def stats(self) -> dict[str, Any]:
        """What the run sent, for summary.json: a spent time budget is said, not hidden."""
        return {
            "seed": self.seed,
            "cases": self.cases,
            "unsent": self.unsent,
            "timeBudgetSeconds": self.options.time_budget_s,
            "cassettes": [str(path) for path in self.cassettes],
            # Constraints the docs do not state, broken: minor entries of the summary.
            "advisories": [
                {
                    "check": advisory.check,
                    "operation": advisory.operation,
                    "message": advisory.message,
                    "reproduction": advisory.reproduction,
                }
                for advisory in (self.run.advisories if self.run else [])
            ],
        }

    def close(self) -> None:
        fuzz_checks.unbind(self.schema)
        self.target.close()

    @property
    def seed(self) -> int:
        return int(self.options.seed or 0)

    def start_budget(self, share: int) -> None:
        """Give the next test `1/share` of the run's time budget (none: unbounded) — times the
        workers fuzzing side by side, so the suite's wall time, not its work, is the budget."""
        if self.options.time_budget_s:
            seconds = self.options.time_budget_s * self.options.parallel / share
            self.target.deadline = time.monotonic() + seconds

    def check_case(self, case: Case[Any], test_name: str) -> None:
        """Send one generated case and judge it with every check (stateless)."""
        if self.target.out_of_time:
            self.unsent += 1
            raise BudgetSpent  # stops generating too: the rest would be built and thrown away
        self.cases += 1
        call_kwargs = self.target.call_kwargs()
        try:
            response = case.call(**call_kwargs)
        except WriteOutcomeUnknownError as exc:
            # Neither a pass nor a failure: raising would make hypothesis replay (resend) it.
            self.inconclusive.append(str(exc))
            return
        try:
            case.validate_response(
                response, headers=self.target.headers, transport_kwargs=call_kwargs
            )
        except FailureGroup as exc:
            self.explain(exc, test_name, [response])
            raise

    def fuzz_operation(self, operation_id: str, test_name: str) -> None:
        """Generate and check every case of one operation (examples, coverage, fuzzing phases).

        The hypothesis test is built here, when the test runs, not at collection: collecting the
        suite stays cheap and generates nothing.
        """
        assert isinstance(self.schema, OpenApiSchema)
        operation = self.schema.find_operation_by_id(operation_id)

        def test(case: Case[Any]) -> None:
            self.check_case(case, test_name)

        built = build_operation_test(
            config=self.schema.config,
            operation=operation,
            test_func=test,
            given_kwargs={},
            feedback=self.feedback(),
        )
        with ignore_hypothesis_output():
            try:
                built()
            except BaseException as exc:
                # The spent budget is reported with the case counts (terminal summary,
                # summary.json), never as a finding; hypothesis may group it with real ones.
                findings = _findings(exc)
                if not findings:
                    return
                if findings == [exc] or not _spent_inside(exc):
                    raise
                raise findings[0] from None  # as raised: its seed, curl and cassette kept

    def feedback(self) -> FeedbackSources:
        """schemathesis' feedback sources (its constants pool), built once per run."""
        if self._feedback is None:
            pool = make_constants_value_source(self.schema)
            self._feedback = FeedbackSources(constants_value_source=pool)
        return self._feedback

    def explain(self, exc: BaseException, test_name: str, sequence: list[Response]) -> None:
        """Attach seed, a runnable curl line and the saved cassette to a failure: as a note
        (pytest's output) and as its `REPRODUCTION_ATTRIBUTE` (summary.json, the HTML card)."""
        path = self.save_cassette(test_name, sequence)
        method, url, headers, body = request_parts(sequence[-1])
        url = url.replace(MOCK_ORIGIN, SERVED_MOCK_ORIGIN)  # the embedded mock: serve it
        curl = curl_command(
            method, url, headers, body, secrets=self.target.secrets, token_variable="CDF_TOKEN"
        )
        replay = f"wfcontracts verify --replay-failure {path}{self.target_flags}"
        setattr(
            exc,
            REPRODUCTION_ATTRIBUTE,
            {"seed": self.seed, "curl": curl, "cassette": str(path), "replay": replay},
        )
        exc.add_note(
            f"wfcontracts fuzz: --seed {self.seed}\n  reproduce: {curl}\n  cassette: {path}"
            f"\n  replay: {replay}"
        )

    def save_cassette(self, test_name: str, sequence: list[Response]) -> Path:
        """The request sequence as a vcrpy cassette, secrets scrubbed."""
        self.report_dir.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name).strip("_")[:120]
        path = self.report_dir / f"{name}-seed{self.seed}.yaml"
        cassette = {"interactions": [self._interaction(r) for r in sequence], "version": 1}
        path.write_text(mask_known(yamlserializer.serialize(cassette), self.target.secrets))
        self.cassettes.append(path)
        return path

    @staticmethod
    def _interaction(response: Response) -> dict[str, Any]:
        method, url, headers, body = request_parts(response)
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
        scrubbed = scrub_body(body, content_type)
        text = scrubbed.decode("utf-8", "replace") if isinstance(scrubbed, bytes) else scrubbed
        return {
            "request": {
                "method": method,
                "uri": scrub_url(url),
                "body": text or None,
                "headers": scrub_headers({k: [v] for k, v in headers.items()}),
            },
            "response": {
                "status": {"code": response.status_code, "message": response.message},
                "headers": scrub_headers(dict(response.headers)),
                "body": {"string": response.text},
            },
        }

    def state_machine(self) -> type[APIStateMachine]:
        """The contract's links as a schemathesis state machine, judged by every check.

        Failing steps are collected in :attr:`stateful_failures`; call
        :meth:`raise_stateful_failures` after the run.
        """
        self.stateful_failures.clear()
        return _bind_machine(self)

    def raise_stateful_failures(self) -> None:
        """Raise the first failure the state machine met (each carries its seed and cassette)."""
        if self.stateful_failures:
            first = self.stateful_failures[0]
            more = len(self.stateful_failures) - 1
            if more:
                first.add_note(f"wfcontracts fuzz: {more} more failing stateful step(s)")
            raise first


#: Where the curl line of an embedded-mock failure points: `wfcontracts mock serve`'s default.
SERVED_MOCK_ORIGIN = "http://127.0.0.1:8000"


class BudgetSpent(Exception):
    """The fuzz suite's time budget is spent: the state machine stops sending."""


def _spent_inside(exc: BaseException) -> bool:
    if isinstance(exc, BudgetSpent):
        return True
    return isinstance(exc, BaseExceptionGroup) and any(_spent_inside(e) for e in exc.exceptions)


def _findings(exc: BaseException) -> list[BaseException]:
    """The failures behind `exc`, without the spent budget (schemathesis' groups kept whole)."""
    if isinstance(exc, BudgetSpent):
        return []
    if isinstance(exc, BaseExceptionGroup) and not isinstance(exc, FailureGroup):
        return [found for inner in exc.exceptions for found in _findings(inner)]
    return [exc]


def _target_flags(runtime: Runtime) -> str:
    """` --base-url … --project …` (live) or ` --fault …` (embedded): the same target again."""
    if runtime.mock is not None:
        return "".join(f" --fault {name}" for name in runtime.options.faults)
    return f" --base-url {runtime.config.base_url} --project {runtime.config.project}"


def fuzz_options_from(runtime: Runtime, **overrides: Any) -> FuzzOptions:
    """Fuzz options from the run: `--max-examples` and the run's seed (always chosen)."""
    values: dict[str, Any] = {
        "max_examples": runtime.options.max_examples,
        "seed": runtime.seed,
        "time_budget_s": runtime.fuzz_seconds,
        "parallel": runtime.options.workers,
    }
    values.update(overrides)
    return FuzzOptions(**values)


def request_parts(response: Response) -> tuple[str, str, dict[str, str], bytes]:
    """Method, URL, headers and body bytes of the request that got `response`."""
    request = response.request
    body: Any = request.body or b""
    raw = body.encode() if isinstance(body, str) else bytes(body)
    headers = {
        str(k): v.decode() if isinstance(v, bytes) else str(v) for k, v in request.headers.items()
    }
    return str(request.method), str(request.url), headers, raw


def _bind_machine(fuzz: Fuzz) -> type[APIStateMachine]:
    base = fuzz.schema.as_state_machine()

    class WfcontractsStateMachine(base):  # type: ignore[valid-type, misc]
        """Every step carries our auth; a failing sequence is saved as a cassette."""

        def setup(self) -> None:
            self.sequence: list[Response] = []

        def get_call_kwargs(self, case: Case[Any]) -> dict[str, Any]:
            return fuzz.target.call_kwargs()

        def call(self, case: Case[Any], **kwargs: Any) -> Response:
            try:
                return case.call(**kwargs)
            except WriteOutcomeUnknownError as exc:
                # The sequence cannot go on from an unknown state: discard it, not fail it.
                fuzz.inconclusive.append(str(exc))
                hypothesis.reject()

        def before_call(self, case: Case[Any]) -> None:
            super().before_call(case)
            if fuzz.target.out_of_time:
                fuzz.unsent += 1
                raise BudgetSpent

        def after_call(self, response: Response, case: Case[Any]) -> None:
            super().after_call(response, case)
            fuzz.cases += 1
            self.sequence.append(response)

        def validate_response(
            self, response: Response, case: Case[Any], additional_checks: Any = None, **kwargs: Any
        ) -> None:
            try:
                # `headers` tells ignored_auth the Authorization header is ours (explicit).
                case.validate_response(
                    response,
                    additional_checks=additional_checks,
                    headers=fuzz.target.headers,
                    transport_kwargs=kwargs or None,
                    recorder=getattr(self, "recorder", None),
                )
            except FailureGroup as exc:
                # Recorded, not raised: hypothesis would replay the sequence to confirm it, and a
                # replay meets server state the first run changed (FlakyStrategyDefinition).
                fuzz.explain(exc, "stateful", self.sequence)
                fuzz.stateful_failures.append(exc)

    return WfcontractsStateMachine
