"""The main screen: zoo on the left, the layer tree in the centre, details on the right.

Screens opened by keys are imported when first opened, so that the first frame does not
wait for them (torch loads later still, in a worker)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Input, Tree
from textual.worker import get_current_worker

from cnnexplorer.analysis.request import AnalysisRequest
from cnnexplorer.app.access import explorer_app
from cnnexplorer.app.messages import AnalysisReady, ArchitectureChosen, ZooRowReady
from cnnexplorer.app.widgets.details import DetailsPanel
from cnnexplorer.app.widgets.graph_view import GraphView
from cnnexplorer.app.widgets.key_footer import Key, KeyFooter
from cnnexplorer.app.widgets.layer_tree import LayerTable, LayerTree, Ranking
from cnnexplorer.app.widgets.model_header import ModelHeader
from cnnexplorer.app.widgets.profile_header import ProfileHeader
from cnnexplorer.app.widgets.roofline_chart import RooflineChart
from cnnexplorer.app.widgets.stage_plots import StagePlots
from cnnexplorer.app.widgets.text_input import TextInput
from cnnexplorer.app.widgets.zoo_list import ZooList, ZooPane
from cnnexplorer.errors import UsageError
from cnnexplorer.settings import load_settings, remember
from cnnexplorer.zoo import ARCHITECTURES, get, more_architectures, more_names

if TYPE_CHECKING:
    from cnnexplorer.analysis import Analysis, LayerNode
    from cnnexplorer.analysis.cache import AnalysisCache
    from cnnexplorer.analysis.graph import BlockGraph
    from cnnexplorer.app.screens.profile_form import ProfileChoice
    from cnnexplorer.diff import Diff
    from cnnexplorer.overview import ZooRow
    from cnnexplorer.profile import Profile
    from cnnexplorer.render.graph import Drawing

MAX_DEPTH = 12
ANALYSIS_DELAY = 0.2  # seconds the cursor must rest on a model before it is analysed
ZOO_MIN_WIDTH = 110  # narrower than this, the zoo pane hides (m shows it)
DETAILS_RIGHT_WIDTH = 150  # from this width the details sit right of the table
DETAILS_BELOW_HEIGHT = 34  # narrower but at least this tall: below it; else behind v (the roofline: below)


class ProfileCancelled(Exception):
    """Raised in the profile's worker, at its next progress report, once escape cancelled it."""


class ExplorerScreen(Screen[None]):
    """Browse the zoo; every figure comes from the core's analysis of the selected model.

    The panes share the width by priority: the layer table first, then the zoo (hidden
    below ZOO_MIN_WIDTH columns, ``m`` shows it), then the details (right of the table
    from DETAILS_RIGHT_WIDTH columns, else below it from DETAILS_BELOW_HEIGHT rows, else
    behind ``v``)."""

    BINDINGS = [  # the footer shows rank 1 at any width, then 2 and 3 as the width allows (widgets/key_footer.py)
        Key("slash", "search", "Search", tooltip="search layers by name or type (enter/↓ next, ↑ previous)"),
        Key("c", "costliest", "Cost", tooltip="costliest layers by MACs, then params, then memory, then the tree"),
        Key("g", "graph", "Graph", tooltip="dataflow graph of the highlighted block, or back to the table"),
        Key("i", "input_size", "Input", tooltip="input size and batch (empty: each model's own)"),
        Key("m", "toggle_zoo", "Models", tooltip="show or hide the zoo pane"),
        Key("v", "toggle_details", "Details", tooltip="show or hide the layer details"),
        Key("d", "diff", "Diff", tooltip="pick a second model: both aligned layer by layer"),
        Key("t", "train", "Train", tooltip="train this model (a form with its paper recipe)"),
        Key("e", "evaluate", "Eval", rank=2, tooltip="evaluate a checkpoint: top-1/top-5"),
        Key("p", "toggle_plots", "Plots", rank=2, tooltip="per-stage charts of params and MACs"),
        Key("z", "zoo_chart", "Zoo chart", rank=2, tooltip="published top-5 error against GMACs"),
        *(
            Key(key, f"change_depth({step})", "Fold/Unfold", rank=2, group=Binding.Group("Fold/Unfold"), tooltip=does)
            for key, step, does in [("[", -1, "fold the tree one level"), ("]", 1, "unfold the tree one level")]
        ),
        *(
            Key(str(n), f"set_depth({n})", "Depth", rank=2, group=Binding.Group("Depth"), tooltip="unfold to depth N")
            for n in range(1, 10)
        ),
        Key("f", "maximize_details", "Full details", rank=3, tooltip="the layer details full screen, or back"),
        Key(
            "r",
            "profile",
            "Profile",
            rank=3,
            tooltip="profile: measure each layer's time on a device, with its roofline; again: back to the table",
        ),
        # Not in the footer: the profile's header line says "esc cancels" while it runs.
        Key("escape", "cancel_profile", "Cancel", rank=None, priority=True, tooltip="cancel a profile under way"),
        # The search's keys: in the footer while typing in it.
        Key("n", "next_match(1)", "Next match", rank=None, tooltip="next search match"),
        Key("N", "next_match(-1)", "Previous match", rank=None, tooltip="previous search match"),
        Key("down", "search_step(1)", "Next", key_display="enter/↓", rank=None, tooltip="next search match"),
        Key("up", "search_step(-1)", "Previous", rank=None, tooltip="previous search match"),
        Key("escape", "close_search", "Close", rank=None, tooltip="close the search"),
    ]

    HELP_TITLE = "Explorer"

    analysis: reactive[Analysis | None] = reactive(None, init=False, always_update=True)
    """The analysis shown: header, tree, details and plots follow it (None: nothing to show)."""
    depth: reactive[int] = reactive(1, always_update=True)
    """How deep the layer tree is unfolded (set again: blocks opened deeper fold)."""

    def __init__(self, initial_model: str | None, cache: AnalysisCache | None, zoo_stats: bool) -> None:
        super().__init__()
        # What the user asked to see; the analysis shown carries the request it answers.
        self.request = AnalysisRequest.of(initial_model or "alexnet-2012")
        self.cache = cache
        self.zoo_rows: dict[str, ZooRow] = {}
        self._zoo_stats = zoo_stats
        self.devices: list[str] = []  # CUDA devices found, then the CPU (filled once torch loads)
        self._pending_start: Timer | None = None
        self._matches: list[LayerNode] = []
        self._match_index = 0
        self._zoo_shown: bool | None = load_settings().zoo_shown  # None: by the width
        self._details_shown: bool | None = None  # None: by the size
        self.profile: Profile | None = None  # the measured profile shown (the -profile class is on)

    @property
    def model_name(self) -> str:
        return self.request.model

    def compose(self) -> ComposeResult:
        yield ModelHeader(id="model-header")
        with Horizontal(id="body"):
            yield ZooPane(id="zoo-pane")
            with Vertical(id="centre"):
                yield TextInput(placeholder="search layers by name or type (enter/↓ next, ↑ previous)", id="search")
                yield ProfileHeader(id="profile-header")
                with Container(id="workspace"):
                    yield LayerTable(id="layer-table")
                    yield GraphView(id="graph")
                    yield DetailsPanel(id="details")
                    yield RooflineChart(id="roofline")
        yield StagePlots(id="plots")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one(ModelHeader).show_message("Loading torch and the analysis engine…")
        self.query_one(LayerTree).loading = True
        zoo = self.query_one(ZooList)
        zoo.select_architecture(self.model_name)
        if self.has_class("-zoo-hidden"):  # laid out already, narrower than the zoo needs
            self._focus_workspace()
        else:
            self.set_focus(zoo)  # at once: a first layout that hides the zoo moves it on
        self.load_engine()

    # Layout -----------------------------------------------------------------------------

    def on_resize(self) -> None:
        self._apply_layout()

    def _apply_layout(self) -> None:
        width, height = self.size
        zoo = self._zoo_shown if self._zoo_shown is not None else width >= ZOO_MIN_WIDTH
        if self._details_shown is False:
            details = "hidden"
        elif width >= DETAILS_RIGHT_WIDTH and self.profile is None:
            details = "right"
        elif height >= DETAILS_BELOW_HEIGHT or self._details_shown or self.profile is not None:
            details = "below"  # the roofline in the details' place: below the table, as wide as it
        else:
            details = "hidden"
        self.set_class(not zoo, "-zoo-hidden")
        self.query_one(ZooPane).fit(width)
        self.set_class(details == "below", "-details-below")
        self.set_class(details == "hidden", "-details-hidden")
        self.set_class(height < DETAILS_BELOW_HEIGHT, "-short")  # the roofline below takes more of it
        if not zoo and self.focused is not None and self.query_one(ZooPane) in self.focused.ancestors:
            self._focus_workspace()

    def _focus_workspace(self) -> None:
        """Focus the graph where it is shown, else the layer tree."""
        (self.query_one(GraphView) if self.has_class("-graph") else self.query_one(LayerTree)).focus()

    def action_toggle_zoo(self) -> None:
        self._zoo_shown = self.has_class("-zoo-hidden")
        self._apply_layout()
        if self._zoo_shown:
            self.query_one(ZooList).focus()
        failure = remember(zoo_shown=self._zoo_shown)  # the next session opens as this one is now
        if failure is not None:
            self.notify(failure, title="Not remembered", severity="warning")

    def action_toggle_details(self) -> None:
        self._details_shown = self.has_class("-details-hidden")
        self._apply_layout()

    def action_maximize_details(self) -> None:
        """The layer details over the whole screen, focused (the keys scroll them), or back."""
        details = self.query_one(DetailsPanel)
        if self.maximized is details:
            self.minimize()
            self._focus_workspace()
        else:
            self.maximize(details, container=False)
            details.focus()

    # Workers ------------------------------------------------------------------------

    @work(thread=True, group="engine")
    def load_engine(self) -> None:
        """After the first frame, off the UI thread: show the model from the disk cache at
        once (torch-free), start the analyses, then import torch for the device list."""
        from cnnexplorer.analysis.cache import AnalysisCache

        cache = self.cache if self.cache is not None else AnalysisCache()
        cache.load_stored(self.request)  # request_analysis finds it in memory: no debounce
        self.cache = cache
        self.app.call_from_thread(self._engine_ready)
        self.app.call_from_thread(self.query_one(ZooList).add_more, more_names())
        from cnnexplorer.train.devices import list_device_choices  # imports torch

        self.devices = list_device_choices()

    def _engine_ready(self) -> None:
        self.request_analysis()
        if self._zoo_stats:
            self.analyse_zoo()

    @work(thread=True, exclusive=True, group="analysis")
    def analyse(self, request: AnalysisRequest) -> None:
        assert self.cache is not None
        try:
            analysis = self.cache.get(request)
        except UsageError as error:
            self.post_message(AnalysisReady(request, error=str(error)))
            return
        if not get_current_worker().is_cancelled:
            self.post_message(AnalysisReady(request, analysis=analysis))

    @work(thread=True, group="zoo")
    def analyse_zoo(self) -> None:
        """Every architecture's figures at its default input, for the zoo list and chart: first
        the totals the disk cache holds (torch-free), then each analysis into memory (from the
        disk cache, or computed and stored for next time)."""
        from cnnexplorer.overview import overview_row, stored_row

        assert self.cache is not None
        shown = set()
        for arch in [*ARCHITECTURES, *more_architectures()]:  # "more" only from the disk cache: not analysed here
            if get_current_worker().is_cancelled:
                return
            row = stored_row(arch)
            if row is not None:
                shown.add(arch.name)
                self.post_message(ZooRowReady(row))
        for arch in ARCHITECTURES:
            if get_current_worker().is_cancelled:
                return
            analysis = self.cache.get(AnalysisRequest.of(arch.name))
            if arch.name not in shown:
                self.post_message(ZooRowReady(overview_row(arch, analysis)))

    # Analysis requests ------------------------------------------------------------------

    def request_analysis(self) -> None:
        """Show the current model at the current input: at once if cached, else in a worker."""
        if self.cache is None:  # the engine is still loading; it will ask again
            return
        if self._pending_start is not None:  # a debounced request that is now stale
            self._pending_start.stop()
            self._pending_start = None
        cached = self.cache.peek(self.request)
        if cached is not None:
            self.analysis = cached
            return
        self.query_one(LayerTree).loading = True
        # Debounced: holding a key over the zoo starts no analysis until the cursor rests.
        self._pending_start = self.set_timer(ANALYSIS_DELAY, partial(self._start_analysis, self.request))

    def _start_analysis(self, request: AnalysisRequest) -> None:
        self._pending_start = None
        self.analyse(request)

    @property
    def is_busy(self) -> bool:
        """Whether the engine is loading or an analysis is waiting to start."""
        return self.cache is None or self._pending_start is not None

    def on_analysis_ready(self, message: AnalysisReady) -> None:
        if message.request != self.request:
            return  # a stale result: the user has moved on
        self.query_one(LayerTree).loading = False
        if message.analysis is not None:
            self.analysis = message.analysis
        elif self.analysis is not None and self.analysis.name == message.request.model:
            self._keep_previous_view(message.error or "the analysis failed")
        else:
            self._show_failure(message.request, message.error or "the analysis failed")

    def _keep_previous_view(self, error: str) -> None:
        """A new input for the model shown failed: keep what was shown and say why."""
        assert self.analysis is not None
        self.request = self.analysis.request
        self.query_one(ModelHeader).show(self.analysis, notice=error)
        self.notify(f"{error}. Press i to choose another input.", title="Not applied", severity="error")

    def _show_failure(self, request: AnalysisRequest, error: str) -> None:
        """Another model cannot take the chosen input: say why, and let the user move on."""
        self.analysis = None
        self.query_one(ModelHeader).show_failure(request, error)
        self.query_one(LayerTree).show_failure(request.model, "nothing to show at this input")
        self.query_one(DetailsPanel).clear()
        self._close_graph()

    def watch_analysis(self, previous: Analysis | None, analysis: Analysis | None) -> None:
        if analysis is None:
            return
        tree = self.query_one(LayerTree)
        # After an input change the user keeps their place (the same layer path).
        keep = tree.highlighted_path if previous is not None and previous.name == analysis.name else None
        request, arch = analysis.request, analysis.arch
        if arch is not None and (request.input_size, request.batch) == (arch.input_size, 1):  # the list's setting
            self.query_one(ZooList).set_figures(analysis.name, analysis.totals.params, analysis.totals.macs)
        with self.app.batch_update():  # one repaint for header, tree, details and plots
            self.query_one(ModelHeader).show(analysis)
            tree.loading = False
            tree.show(analysis, self.depth, keep=keep)
            if self.focused is None:  # the zoo hidden at start: the table, now that it can take focus
                self._focus_workspace()
            self.query_one(DetailsPanel).show(analysis, analysis.paths.get(keep or "", analysis.root))
            if self._matches:
                self._search(self.query_one("#search", Input).value)
            if self.query_one(StagePlots).display:
                self._draw_plots()
            if self.has_class("-graph"):
                self._redraw_graph(same_model=keep is not None)
            if self.profile is not None and not profile_fits(self.profile, analysis):
                self.hide_profile()

    def _draw_plots(self) -> None:
        from cnnexplorer.analysis.structure import stages

        assert self.analysis is not None
        self.query_one(StagePlots).show(self.analysis.name, stages(self.analysis))

    # Events -------------------------------------------------------------------------------

    def on_architecture_chosen(self, message: ArchitectureChosen) -> None:
        self.open_architecture(message.name)

    def on_screen_resume(self) -> None:
        """A dialog or screen in front closed, whatever its answer: the header's notice of an
        earlier action goes."""
        self.query_one(ModelHeader).clear_notice()

    def open_architecture(self, name: str) -> None:
        """Switch to an architecture (from the zoo list or the command palette)."""
        try:
            self.request = self.request.for_model(name)
        except UsageError as error:  # a name from outside the zoo that does not resolve
            self.notify(str(error), title="Cannot open", severity="error")
            return
        self.query_one(ZooList).select_architecture(self.model_name)
        self.query_one(ModelHeader).clear_notice()
        self.request_analysis()

    def on_zoo_row_ready(self, message: ZooRowReady) -> None:
        self.zoo_rows[message.row.name] = message.row
        self.query_one(ZooList).set_figures(message.row.name, message.row.params, message.row.macs)

    @on(Tree.NodeHighlighted, "#layers")
    def show_details(self, event: Tree.NodeHighlighted) -> None:
        node = event.node.data
        # A highlight from a tree of another model (queued before a switch) is dropped, so
        # that the details are always of the model in the header.
        if self.analysis is not None and node is not None and self.analysis.paths.get(node.path) is node:
            self.query_one(DetailsPanel).show(self.analysis, node)
            if self.profile is not None:
                self.query_one(RooflineChart).mark(node.path)

    # Graph ---------------------------------------------------------------------------------

    def action_graph(self) -> None:
        """The graph of the highlighted block, or back to the table."""
        if self.has_class("-graph"):
            self._close_graph()
        else:
            self.show_graph()

    def show_graph(self) -> None:
        """The dataflow graph of the highlighted block in the table's place (a leaf: its
        parent's, with the leaf selected)."""
        if self.analysis is None:
            self.notify("No analysis to draw yet.", severity="warning")
            return
        node = self.analysis.paths.get(self.query_one(LayerTree).highlighted_path or "", self.analysis.root)
        if node.children:
            self.open_graph(node.path, 1)
        else:
            self.open_graph(node.path.rpartition(".")[0], 1, select=node.path)

    def open_graph(self, block: str, depth: int, select: str | None = None) -> None:
        """Show the graph of ``block`` at ``depth`` with the node of layer ``select`` selected,
        drawn in a worker (a deep graph of a large model takes seconds to lay out)."""
        assert self.analysis is not None
        view = self.query_one(GraphView)
        view.loading = self.has_class("-graph")
        self.lay_out_graph(self.analysis, block, depth, select)

    @work(thread=True, exclusive=True, group="graph")
    def lay_out_graph(self, analysis: Analysis, block: str, depth: int, select: str | None) -> None:
        from cnnexplorer.analysis.graph import block_graph
        from cnnexplorer.render.graph import draw_graph

        try:
            graph = block_graph(analysis, block, depth)
            drawing = draw_graph(graph)
        except UsageError as error:
            self.app.call_from_thread(self._graph_failed, analysis, str(error))
            return
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._graph_ready, analysis, graph, drawing, select)

    def _graph_ready(self, analysis: Analysis, graph: BlockGraph, drawing: Drawing, select: str | None) -> None:
        view = self.query_one(GraphView)
        view.loading = False
        if analysis is not self.analysis:  # drawn for an analysis no longer shown
            return
        self.query_one(ModelHeader).show(analysis)  # without an earlier graph's error
        self.add_class("-graph")
        view.show(analysis, graph, drawing, select)
        view.focus()

    def _graph_failed(self, analysis: Analysis, error: str) -> None:
        """Say in the header why there is no graph; a graph of an earlier analysis goes."""
        view = self.query_one(GraphView)
        view.loading = False
        if analysis is not self.analysis:
            return
        self.query_one(ModelHeader).show(analysis, notice=f"no graph: {error}")
        if view.analysis is not analysis:
            self._close_graph()

    def _redraw_graph(self, same_model: bool) -> None:
        """A new analysis: the same block and layer again if the model is the same, else the table."""
        view = self.query_one(GraphView)
        if same_model and view.graph is not None:
            self.open_graph(view.graph.block, view.depth, view.selected_path)
        else:
            self._close_graph()

    def _close_graph(self) -> None:
        """Back to the table; a graph still being drawn is dropped."""
        self.workers.cancel_group(self, "graph")
        self.query_one(GraphView).loading = False
        if self.has_class("-graph"):
            self.remove_class("-graph")
            self.query_one(LayerTree).focus()

    @on(GraphView.Selected)
    def follow_graph(self, message: GraphView.Selected) -> None:
        """The table's cursor goes to the selected node's layer, and the details follow it."""
        tree = self.query_one(LayerTree)
        if tree.ranking is None:
            tree.reveal(message.path)
        elif self.analysis is not None and message.path in self.analysis.paths:  # the costliest view has leaves only
            self.query_one(DetailsPanel).show(self.analysis, self.analysis.paths[message.path])

    @on(GraphView.Open)
    def open_other_block(self, message: GraphView.Open) -> None:
        self.open_graph(message.block, message.depth, message.select)

    @on(GraphView.Closed)
    def close_graph(self) -> None:
        self._close_graph()

    # Measured view --------------------------------------------------------------------------

    def action_profile(self) -> None:
        """Measure the shown model on a device (a dialog chooses it), or back to the table."""
        if self.profile is not None:
            self.hide_profile()
        else:
            self.choose_profile_device()

    def choose_profile_device(self) -> None:
        """The device dialog; the profile then runs in a worker (escape cancels it)."""
        if self.analysis is None:
            self.notify("No model to profile yet.", severity="warning")
            return
        from cnnexplorer import units
        from cnnexplorer.app.screens.profile_form import ProfileForm

        analysis = self.analysis
        title = f"Profile {analysis.name} · input {units.dims(analysis.input_size)} · batch {analysis.batch}"

        def start(choice: ProfileChoice | None) -> None:
            if choice is not None:
                self.add_class("-profiling")
                self.query_one(ProfileHeader).show_progress(analysis.name, choice.device, "loading torch…")
                self.measure_profile(analysis, choice)

        self.app.push_screen(ProfileForm(title, self.devices or ["cpu"]), start)

    @work(thread=True, exclusive=True, group="profile")
    def measure_profile(self, analysis: Analysis, choice: ProfileChoice) -> None:
        from cnnexplorer.profile.measure import ProfileRequest, profile_model

        worker = get_current_worker()

        def progress(step: str) -> None:
            if worker.is_cancelled:
                raise ProfileCancelled
            self.app.call_from_thread(self._profile_progress, worker, analysis.name, choice.device, step)

        request = ProfileRequest(
            analysis.name, analysis.input_size, analysis.batch, choice.device, choice.precision, mode=choice.mode
        )
        try:
            profile = profile_model(request, progress)
        except ProfileCancelled:
            return
        except Exception as error:  # a one-line error, or the model's own code failing: never take the app down
            message = str(error) if isinstance(error, UsageError) else f"{type(error).__name__}: {error}"
            if not worker.is_cancelled:
                self.app.call_from_thread(self._profile_failed, message.splitlines()[0] if message else "failed")
            return
        if not worker.is_cancelled:
            self.app.call_from_thread(self._profile_measured, profile)

    def _profile_progress(self, worker: object, model: str, device: str, step: str) -> None:
        if any(running is worker for running in self.workers if running.group == "profile"):
            self.query_one(ProfileHeader).show_progress(model, device, step)

    def _profile_measured(self, profile: Profile) -> None:
        self.remove_class("-profiling")
        self.show_profile(profile)

    def _profile_failed(self, error: str) -> None:
        self.remove_class("-profiling")
        self._restore_profile_header()
        self.notify(error, title="No profile", severity="error")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_profile":  # escape cancels a profile under way, else does what it did
            return self.has_class("-profiling")
        if action == "search_step":  # ↑/↓ step through matches while typing a search
            return self.focused is self.query_one("#search", Input)
        return True

    def action_cancel_profile(self) -> None:
        self.workers.cancel_group(self, "profile")
        self.remove_class("-profiling")
        self._restore_profile_header()
        self.notify("Profile cancelled.")

    def _restore_profile_header(self) -> None:
        """The header line of the profile shown again (after a measurement that ended without one)."""
        if self.profile is not None:
            self.query_one(ProfileHeader).show(self.profile)

    def show_profile(self, profile: Profile) -> None:
        """The measured view of ``profile`` (of the model shown): its columns in the layer
        table, its roofline chart following the table's cursor, its header line."""
        if self.analysis is None or not profile_fits(profile, self.analysis):
            shown = self.analysis.name if self.analysis is not None else "nothing"
            self.notify(
                f"The profile of {profile.model} at {profile.input_size} × {profile.batch} is not shown: "
                f"the explorer now shows {shown}.",
                severity="warning",
            )
            return
        self.profile = profile
        self.add_class("-profile")
        tree = self.query_one(LayerTree)
        tree.show_profile(profile)
        self.query_one(ProfileHeader).show(profile)
        self.query_one(RooflineChart).show(profile, tree.highlighted_path)
        self._apply_layout()

    def hide_profile(self) -> None:
        """Back to the counted columns and the details."""
        self.profile = None
        self.remove_class("-profile")
        self.query_one(LayerTree).show_profile(None)
        self._apply_layout()

    # Search --------------------------------------------------------------------------------

    def action_search(self) -> None:
        self.query_one(ModelHeader).clear_notice()
        search = self.query_one("#search", Input)
        search.display = True
        # Focus at once (not after a refresh), so that keys typed in the same burst as `/`
        # are typed into the search, not run as commands.
        self.set_focus(search)

    def action_close_search(self) -> None:
        """Escape: closes the search, else the stage plots."""
        search = self.query_one("#search", Input)
        if search.display:
            search.display = False
            self._focus_workspace()
        elif self.query_one(StagePlots).display:
            self.action_toggle_plots()

    @on(Input.Changed, "#search")
    def search_layers(self, event: Input.Changed) -> None:
        self._search(event.value)
        self._reveal_match()

    def _search(self, query: str) -> None:
        from cnnexplorer.analysis.structure import find_layers

        self._matches = find_layers(self.analysis, query) if self.analysis is not None else []
        self._match_index = 0
        self.query_one(LayerTree).mark({node.path for node in self._matches})

    @on(Input.Submitted, "#search")
    def next_match_on_enter(self) -> None:
        self.action_next_match(1)

    def action_search_step(self, step: int) -> None:
        self.action_next_match(step)

    def action_next_match(self, step: int) -> None:
        if self._matches:
            self._match_index = (self._match_index + step) % len(self._matches)
            self._reveal_match()

    def _reveal_match(self) -> None:
        search = self.query_one("#search", Input)
        if not self._matches:
            search.border_subtitle = "no match" if search.value.strip() else ""
            return
        node = self._matches[self._match_index]
        self.query_one(LayerTree).reveal(node.path)
        search.border_subtitle = f"{self._match_index + 1} of {len(self._matches)}: {node.path}"

    # Depth, input, plots, help -----------------------------------------------------------------

    def action_change_depth(self, delta: int) -> None:
        self.depth += delta

    def action_set_depth(self, depth: int) -> None:
        self.depth = depth

    def validate_depth(self, depth: int) -> int:
        return max(1, min(MAX_DEPTH, depth))

    def watch_depth(self, depth: int) -> None:
        self._title_layers()
        if self.analysis is not None:
            self.query_one(LayerTree).set_depth(depth)

    def _title_layers(self) -> None:
        self.query_one(LayerTable).show_depth(self.depth)

    def action_costliest(self) -> None:
        """Cycle the layer view: the tree, then the costliest layers by MACs, params, memory."""
        tree = self.query_one(LayerTree)
        order: list[Ranking | None] = [None, "macs", "params", "activation_bytes"]
        tree.set_ranking(order[(order.index(tree.ranking) + 1) % len(order)], self.depth)
        self._title_layers()

    def action_input_size(self) -> None:
        from cnnexplorer.app.screens.input_dialog import InputDialog

        def apply(request: AnalysisRequest | None) -> None:
            if request is not None:
                self.request = request
                self.request_analysis()

        self.app.push_screen(InputDialog(self.request), apply)

    def action_toggle_plots(self) -> None:
        plots = self.query_one(StagePlots)
        plots.display = not plots.display
        if plots.display and self.analysis is not None:
            self._draw_plots()

    def action_zoo_chart(self) -> None:
        from cnnexplorer.app.screens.zoo_chart import ZooChartScreen

        rows = [self.zoo_rows[a.name] for a in ARCHITECTURES if a.name in self.zoo_rows]
        self.app.push_screen(ZooChartScreen(rows, pending=len(ARCHITECTURES) - len(rows)))

    def action_diff(self) -> None:
        """Pick a second architecture and show the diff (the current one on the left)."""
        if self.analysis is None:
            self.notify("The current architecture has no analysis to compare yet.", severity="warning")
            return
        from cnnexplorer.app.screens.pick_architecture import PickArchitecture

        left = self.analysis

        def picked(name: str | None) -> None:
            if name is None:
                return
            try:
                # Each side at its own input, unless the user chose one (then it applies to both).
                right = self.request.for_model(name)
            except UsageError as error:  # a typed name that does not resolve
                self.notify(str(error), title="No diff", severity="error")
                return
            self.analyse_for_diff(left, right)

        self.app.push_screen(PickArchitecture(f"Diff {left.name} against…", left.name), picked)

    @work(thread=True, exclusive=True, group="diff")
    def analyse_for_diff(self, left: Analysis, right: AnalysisRequest) -> None:
        from cnnexplorer.diff import diff_analyses

        assert self.cache is not None
        try:
            diff = diff_analyses(left, self.cache.get(right))
        except UsageError as error:
            self.app.call_from_thread(self.notify, f"right ({right.model}): {error}", title="No diff", severity="error")
            return
        self.app.call_from_thread(self._open_diff, diff)

    def _open_diff(self, diff: Diff) -> None:
        from cnnexplorer.app.screens.diff_screen import DiffScreen

        self.app.push_screen(DiffScreen(diff))

    def action_train(self) -> None:
        self._open_form("train")

    def action_evaluate(self) -> None:
        self._open_form("eval")

    def _open_form(self, kind: str) -> None:
        from cnnexplorer.app.screens.launch_form import LaunchForm
        from cnnexplorer.runs.state import shown_path
        from cnnexplorer.train.form import new_request
        from cnnexplorer.train.recipes import recipe_for
        from cnnexplorer.train.request import LaunchRequest

        arch = get(self.model_name)
        recipe = recipe_for(arch)
        devices = self.devices or ["cpu"]
        # Runs go where the jobs screen looks for them; the lr is left to the recipe of the optimizer chosen.
        request = new_request(kind, arch.name, recipe, devices[0], shown_path(explorer_app(self).runs_dir))

        def launch(result: LaunchRequest | None) -> None:
            if result is not None:
                explorer_app(self).launch(result)

        self.app.push_screen(LaunchForm(request, devices, recipe=f"recipe: {recipe.source}"), launch)


def profile_fits(profile: Profile, analysis: Analysis) -> bool:
    """Whether ``profile`` measured the model, input and batch that ``analysis`` counts."""
    return (profile.model, tuple(profile.input_size), profile.batch) == (
        analysis.name,
        tuple(analysis.input_size),
        analysis.batch,
    )
