"""The flow commands that look, not run: check, show, output-dot, logs, dump and tag.

Owns: the command lines of these commands, as Metaflow spells them, over
the client API (client.py) pointed at this command's datastore. Does not own
reading the datastore (client.py) or rendering the graph (graph/render.py).
"""

from __future__ import annotations

import pickle
import pprint
from pathlib import Path
from typing import Any

import click

from flowdrop.cli.exits import fail, messages_not_tracebacks
from flowdrop.cli.lint import check_flow


def _client(obj: Any, user_namespace: str | None = None) -> Any:
    """The client module reading this command's datastore (then production's), in `user_namespace` ('' or None: all)."""
    from flowdrop import client

    client.set_datastore(obj.datastore_url())
    client.namespace(user_namespace or None)
    return client


def _tasks(obj: Any, pathspec: str) -> list[Any]:
    """The tasks named by RUN/STEP or RUN/STEP/TASK, in index order."""
    parts = pathspec.strip("/").split("/")
    if len(parts) not in (2, 3) or not all(parts):
        fail(f"expected RUN_ID/STEP or RUN_ID/STEP/TASK_ID, got {pathspec!r}", 2)
    client = _client(obj)
    with messages_not_tracebacks():
        step = client.Step(f"{obj.graph.flow_name}/{parts[0]}/{parts[1]}")
        return [step[parts[2]]] if len(parts) == 3 else list(step)


def add_inspect_commands(cli: click.Group) -> None:
    """Add check, show, output-dot, logs, dump and tag to the flow's command group."""
    @cli.command(help="Check the flow: its graph, and (unless --no-pylint) pyflakes over the file.")
    @click.option("--warnings/--no-warnings", default=False, show_default=True,
                  help="Show pyflakes' warnings too, not just errors.")
    @click.pass_obj
    def check(obj: Any, warnings: bool) -> None:
        with messages_not_tracebacks():
            check_flow(obj, warnings=warnings)
        name = obj.flow_file.name
        obj.echo(f"\n'python {name} show' shows the flow's steps.\n'python {name} run' runs the flow locally.")

    @cli.command(help="Show the flow's steps and how they connect.")
    @click.pass_obj
    def show(obj: Any) -> None:
        from flowdrop.graph import render_graph

        click.echo(render_graph(obj.graph))

    @cli.command(name="output-dot", help="Print the flow's graph in Graphviz dot (pipe it to `dot -Tpng`).")
    @click.pass_obj
    def output_dot(obj: Any) -> None:
        from flowdrop.graph import render_dot

        obj.echo("Visualizing the flow as a Graphviz graph; try piping this to 'dot -Tpng -o graph.png'.")
        click.echo(render_dot(obj.graph), nl=False)

    @cli.command(help="Print the stdout and stderr (or only --stdout, --stderr) of the tasks of RUN_ID/STEP[/TASK_ID].")
    @click.argument("pathspec")
    @click.option("--stdout/--no-stdout", "show_stdout", default=False, help="Show stdout (only).")
    @click.option("--stderr/--no-stderr", "show_stderr", default=False, help="Show stderr (only).")
    @click.option("--both/--no-both", default=True, show_default=True, help="Show stdout, then stderr.")
    @click.option("--timestamps/--no-timestamps", default=False, help="Accepted for Metaflow; lines are not timed.")
    @click.option("--attempt", type=int, default=None, help="This attempt's logs (default: the latest).")
    @click.pass_obj
    def logs(obj: Any, pathspec: str, show_stdout: bool, show_stderr: bool, both: bool, timestamps: bool,
             attempt: int | None) -> None:
        # Metaflow's choice: --stdout or --stderr narrows to those; otherwise both, stdout first.
        chosen = [name for name, on in (("stdout", show_stdout), ("stderr", show_stderr)) if on]
        streams = chosen or (["stdout", "stderr"] if both else [])
        for task in _tasks(obj, pathspec):
            obj.echo(f"Dumping logs of {task.pathspec}" + (f" (attempt {attempt})" if attempt is not None else ""),
                     fg="magenta")
            for stream in streams:
                obj.echo(stream)
                text = task._log_text(stream, attempt)
                click.echo(text, nl=not text.endswith("\n") and bool(text))

    @cli.command(help="Print (or --file: pickle) the artifacts of the tasks of RUN_ID/STEP[/TASK_ID].")
    @click.argument("pathspec")
    @click.option("--max-value-size", default=1000, show_default=True, type=int,
                  help="Show artifacts up to this many bytes of text; longer ones show their size.")
    @click.option("--include", default=None, help="Only these artifacts (comma-separated names).")
    @click.option("--file", "out_file", default=None, help="Pickle {run/step/task: {name: value}} into this file.")
    @click.option("--private/--no-private", default=False, show_default=True,
                  help="Show private artifacts (names starting with _) too.")
    @click.pass_obj
    def dump(obj: Any, pathspec: str, max_value_size: int, include: str | None, out_file: str | None,
             private: bool) -> None:
        wanted = {name.strip() for name in include.split(",") if name.strip()} if include else None
        everything: dict[str, dict[str, Any]] = {}
        for task in _tasks(obj, pathspec):
            values = {artifact.id: artifact.data for artifact in task
                      if (wanted is None or artifact.id in wanted) and (private or not artifact.id.startswith("_"))}
            # Keyed as Metaflow's dump keys them: run_id/step/task_id.
            everything["/".join(task.path_components[1:])] = values
            if out_file is None:
                obj.echo(f"Artifacts of {task.pathspec}:", fg="magenta")
                shown = {}
                for name, value in values.items():
                    text = pprint.pformat(value)
                    shown[name] = text if len(text) <= max_value_size else f"<{len(text)} characters, not shown>"
                for name, text in sorted(shown.items()):
                    click.echo(f"{name}: {text}")
        if out_file is not None:
            Path(out_file).write_bytes(pickle.dumps(everything))
            obj.echo(f"Artifacts of {len(everything)} task(s) written to {out_file}.")

    _add_tag_commands(cli)


def _run(obj: Any, run_id: str | None, user_namespace: str | None) -> Any:
    if not run_id:
        fail("--run-id is required: the run whose tags to change", 2)
    from flowdrop.config import user_name

    client = _client(obj, f"user:{user_name()}" if user_namespace is None else user_namespace)
    with messages_not_tracebacks():
        return client.Run(f"{obj.graph.flow_name}/{run_id}")


def _print_tags(run: Any) -> None:
    click.echo(f"Run {run.pathspec}")
    click.echo("  user tags:   " + (", ".join(sorted(run.user_tags)) or "(none)"))
    click.echo("  system tags: " + (", ".join(sorted(run.system_tags)) or "(none)"))


def _add_tag_commands(cli: click.Group) -> None:
    run_id_option = click.option("--run-id", default=None, help="The run to tag. [required]")
    namespace_option = click.option("--namespace", "user_namespace", default=None,
                                    help="Look the run up in this namespace (default: yours; '' for all).")

    @cli.group(help="Add, remove, replace and list a run's tags.")
    def tag() -> None:
        pass

    @tag.command(help="Add tags to a run.")
    @run_id_option
    @namespace_option
    @click.argument("tags", nargs=-1, required=True)
    @click.pass_obj
    def add(obj: Any, run_id: str | None, user_namespace: str | None, tags: tuple[str, ...]) -> None:
        run = _run(obj, run_id, user_namespace)
        with messages_not_tracebacks():
            run.add_tags(tags)
        _print_tags(run)

    @tag.command(help="Remove tags from a run (system tags cannot be removed).")
    @run_id_option
    @namespace_option
    @click.argument("tags", nargs=-1, required=True)
    @click.pass_obj
    def remove(obj: Any, run_id: str | None, user_namespace: str | None, tags: tuple[str, ...]) -> None:
        run = _run(obj, run_id, user_namespace)
        with messages_not_tracebacks():
            run.remove_tags(tags)
        _print_tags(run)

    @tag.command(help="Remove tags and add tags in one change; removals first.")
    @run_id_option
    @namespace_option
    @click.option("--add", "tags_to_add", multiple=True, help="A tag to add (repeatable).")
    @click.option("--remove", "tags_to_remove", multiple=True, help="A tag to remove (repeatable).")
    @click.pass_obj
    def replace(obj: Any, run_id: str | None, user_namespace: str | None, tags_to_add: tuple[str, ...],
                tags_to_remove: tuple[str, ...]) -> None:
        if not tags_to_add or not tags_to_remove:
            fail("tag replace needs at least one --add and one --remove (else say tag add or tag remove)", 2)
        run = _run(obj, run_id, user_namespace)
        with messages_not_tracebacks():
            run.replace_tags(tags_to_remove, tags_to_add)
        _print_tags(run)

    @tag.command(name="list", help="List the tags of a run, or of every run of the flow in your namespace.")
    @run_id_option
    @namespace_option
    @click.option("--all", "list_all", is_flag=True, help="Every run of the flow, in every namespace.")
    @click.option("--hide-system-tags", is_flag=True, help="Only the tags people gave.")
    @click.option("--flat", is_flag=True, help="One tag a line (on stderr, as Metaflow prints them), no run ids.")
    @click.pass_obj
    def tag_list(obj: Any, run_id: str | None, user_namespace: str | None, list_all: bool,
                 hide_system_tags: bool, flat: bool) -> None:
        if run_id:
            runs = [_run(obj, run_id, user_namespace)]
        else:
            from flowdrop.config import user_name

            client = _client(obj, "" if list_all else (user_namespace or f"user:{user_name()}"))
            with messages_not_tracebacks():
                runs = list(client.Flow(obj.graph.flow_name)) if obj.graph.flow_name in client.Metaflow() else []
        if flat:
            for tag in sorted({t for run in runs for t in (run.user_tags if hide_system_tags else run.tags)}):
                obj.echo(tag)
            return
        for run in runs:
            click.echo(f"{run.id}: " + ", ".join(sorted(run.user_tags if hide_system_tags else run.tags)))
