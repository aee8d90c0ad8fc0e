"""The pages a person reads: pairs, one pair's sync log, a deal's explanation, the conflicts
and the dead letters. Each reads what the CLI reads (the state store port, ``ops.explain``);
blocking reads run in Starlette's thread pool, off the event loop."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sync_worker.kernel.errors import ConnectorError
from sync_worker.ops.explain import Explanation, explain
from sync_worker.runtime.console_settings import ConsoleUser
from sync_worker.service.console.charts import line_chart
from sync_worker.service.console.pairs import COLUMNS, Budget, budgets, pair_views
from sync_worker.service.console.runlog import RunLine, run_lines
from sync_worker.service.console.web import Console, not_found, page
from sync_worker.state.base import ConflictEntry, DeadLetter

RUNS_SHOWN = 200


@page
async def pairs_page(request: Request, console: Console, user: ConsoleUser) -> Response:
    rt = console.deps.runtime
    names = sorted(rt.pairs)
    rows = await run_in_threadpool(rt.store.status, names)
    progress = await run_in_threadpool(rt.progress, names)

    def budgets_of(pair: str) -> tuple[Budget, Budget]:
        return budgets(rt.credentials(pair), rt.limiters)

    views = pair_views(
        rows, progress, console.deps.health.failing_pairs(), budgets_of, rt.clock.now()
    )
    healthy, body = console.deps.health.snapshot()
    return console.render(
        request,
        "pairs.html",
        user,
        columns=COLUMNS,
        views=views,
        healthy=healthy,
        scheduler_alive=body["scheduler_alive"],
    )


@page
async def pair_page(request: Request, console: Console, user: ConsoleUser) -> Response:
    rt = console.deps.runtime
    pair = request.path_params["pair"]
    if pair not in rt.pairs:
        return not_found(request, user, f"no pair named {pair!r}")
    lines: list[RunLine] = run_lines(await run_in_threadpool(rt.store.runs, pair, RUNS_SHOWN))
    finished = [line for line in lines if line.duration is not None]
    charts = [
        line_chart(
            "cycle duration", "seconds", [(x.started_at, x.duration or 0.0) for x in finished]
        ),
        line_chart("changes", "fields changed", [(x.started_at, x.changes) for x in finished]),
        line_chart("API calls", "requests", [(x.started_at, x.api_calls) for x in finished]),
    ]
    return console.render(request, "pair.html", user, pair=pair, lines=lines, charts=charts)


@page
async def deal_page(request: Request, console: Console, user: ConsoleUser) -> Response:
    rt = console.deps.runtime
    pairs = sorted(rt.pairs)
    pair = request.query_params.get("pair") or (pairs[0] if pairs else "")
    deal_id = (request.query_params.get("id") or "").strip()
    explanation: Explanation | None = None
    error: str | None = None
    if deal_id and pair not in rt.pairs:
        error = f"no pair named {pair!r}"
    elif deal_id:
        try:
            explanation = await run_in_threadpool(explain, rt.pairs[pair], deal_id)
        except ConnectorError as exc:
            error = f"cannot read the deals: {exc}"
    return console.render(
        request,
        "deal.html",
        user,
        pairs=pairs,
        pair=pair,
        deal_id=deal_id,
        explanation=explanation,
        error=error,
    )


def _wanted(request: Request, console: Console) -> list[str]:
    """The pairs a list shows: ``?pair=`` if it names one, else all."""
    chosen = request.query_params.get("pair")
    names = sorted(console.deps.runtime.pairs)
    return [chosen] if chosen in names else names


@page
async def conflicts_page(request: Request, console: Console, user: ConsoleUser) -> Response:
    store = console.deps.runtime.store
    rows: list[tuple[str, ConflictEntry]] = []
    for name in _wanted(request, console):
        rows += [(name, c) for c in await run_in_threadpool(store.open_conflicts, name)]
    return console.render(request, "conflicts.html", user, rows=rows)


@page
async def dead_letters_page(request: Request, console: Console, user: ConsoleUser) -> Response:
    store = console.deps.runtime.store
    rows: list[tuple[str, DeadLetter]] = []
    for name in _wanted(request, console):
        rows += await run_in_threadpool(store.dead_letters, name)
    return console.render(request, "dead_letters.html", user, rows=rows)
