//! `godzilla watch`: a terminal view refreshed from the files.

use std::io::IsTerminal as _;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Row, Table, TableState};

use crate::cli::error::{CliError, ExitKind};
use crate::cli::ui::{Outcome, Ui};
use crate::context::Context;
use crate::domain::{ProtocolStatus, StepStatus};
use crate::services::platform::queue::{JobState, JobView};
use crate::services::watch::{self, Snapshot};

/// How often the view reads the files again.
const REFRESH: Duration = Duration::from_millis(500);

/// Watch protocols live: their steps and statuses, how long the running step has run, tokens
/// and cost, QA verdicts, the latest lines of the agent's transcript, and the local queue
/// (queued, running, stale and failed jobs, which worker runs each and for how long).
///
/// Keys: ↑/↓ (or k/j) choose a protocol, q (or Esc, Ctrl-C) quits. It reads the files on
/// every refresh, so it works over SSH and next to any number of runs and workers. When
/// stdout is not a terminal it prints the same information once as plain lines.
#[derive(clap::Args, Debug)]
pub struct WatchArgs {
    /// Only this protocol.
    #[arg(value_name = "PROTOCOL")]
    pub protocol: Option<String>,
}

fn elapsed(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s % 3600 / 60)
    } else {
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

fn step_line(s: &watch::StepPane) -> String {
    format!(
        "{} {} · {} attempts{}{}{}",
        s.id,
        s.status,
        s.attempts,
        s.running_for
            .map(|d| format!(" · running {}", elapsed(d)))
            .unwrap_or_default(),
        if s.tokens > 0 {
            format!(" · {} tokens", s.tokens)
        } else {
            String::new()
        },
        s.qa.as_deref()
            .map(|q| format!(" · QA {q}"))
            .unwrap_or_default()
    )
}

fn plain(ui: &mut Ui, snap: &Snapshot) {
    if snap.protocols.is_empty() {
        ui.line("no protocols");
    }
    for p in &snap.protocols {
        ui.line(format!(
            "{} {} · {} tokens · {}",
            p.id,
            p.status.map_or("unknown", |s| s.as_str()),
            p.tokens,
            p.cost_usd.display()
        ));
        for s in &p.steps {
            ui.line(format!("  {}", step_line(s)));
        }
        for t in &p.transcript {
            ui.line(format!("  | {t}"));
        }
    }
    if !snap.queue.is_empty() {
        ui.line(queue_summary(snap));
        for j in &snap.queue {
            ui.line(format!("  {}", job_line(j)));
        }
    }
    for w in &snap.workers {
        ui.line(worker_line(w));
    }
}

fn queue_summary(snap: &Snapshot) -> String {
    let count = |states: &[JobState]| {
        snap.queue
            .iter()
            .filter(|j| states.contains(&j.state))
            .count()
    };
    let mut line = format!(
        "queue: {} queued · {} running · {} failed",
        count(&[JobState::Queued, JobState::Delayed]),
        count(&[JobState::Running]),
        count(&[JobState::Failed])
    );
    let stale = count(&[JobState::Stale]);
    if stale > 0 {
        line.push_str(&format!(" · {stale} stale"));
    }
    line
}

/// How long, and by whom: what each state makes worth saying.
fn job_when(j: &JobView) -> String {
    let age = elapsed(Duration::from_secs(j.age_secs));
    match j.state {
        JobState::Running | JobState::Stale => format!(
            "for {age} on {}",
            j.worker.as_deref().unwrap_or("an unknown worker")
        ),
        JobState::Queued | JobState::Delayed => format!("waiting {age}"),
        _ => format!(
            "exit {} {age} ago",
            j.exit_code
                .map_or_else(|| "?".to_owned(), |c| c.to_string())
        ),
    }
}

fn job_line(j: &JobView) -> String {
    format!(
        "{} {} · attempt {} · {} · {}{}",
        j.id,
        j.state,
        j.attempt,
        job_when(j),
        j.what,
        j.reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    )
}

fn worker_line(w: &watch::WorkerPane) -> String {
    format!(
        "worker {} · {} job{} · busy {}",
        w.worker,
        w.jobs.len(),
        if w.jobs.len() == 1 { "" } else { "s" },
        elapsed(Duration::from_secs(w.busy_secs))
    )
}

/// Runs `watch`.
pub fn run(ctx: &Context, ui: &mut Ui, args: &WatchArgs) -> Result<Outcome, CliError> {
    let only = args
        .protocol
        .as_deref()
        .map(super::events::protocol_arg)
        .transpose()?;
    let first = watch::snapshot(ctx, only.as_ref())?;
    if let Some(id) = &only
        && first.protocols.is_empty()
    {
        return Err(
            CliError::new(ExitKind::Usage, anyhow::anyhow!("protocol {id} not found"))
                .with_hint("`godzilla status` lists the protocols"),
        );
    }
    if ui.is_json() {
        ui.json(&first);
        return Ok(Outcome::Success);
    }
    if !std::io::stdout().is_terminal() {
        plain(ui, &first);
        return Ok(Outcome::Success);
    }
    let mut terminal = ratatui::try_init().map_err(|e| CliError::new(ExitKind::Failed, e))?;
    let result = tui(ctx, &mut terminal, only.as_ref(), first);
    // Always give the terminal back, whatever happened inside.
    ratatui::restore();
    result
}

fn status_color(status: Option<ProtocolStatus>) -> Color {
    match status {
        Some(ProtocolStatus::Completed) => Color::Green,
        Some(ProtocolStatus::Running | ProtocolStatus::Planning) => Color::Cyan,
        Some(ProtocolStatus::Failed | ProtocolStatus::Blocked) | None => Color::Red,
        Some(ProtocolStatus::Paused | ProtocolStatus::Cancelled) => Color::Yellow,
        Some(ProtocolStatus::Pending | ProtocolStatus::Planned) => Color::Reset,
    }
}

fn step_color(status: StepStatus) -> Color {
    match status {
        StepStatus::Completed => Color::Green,
        StepStatus::Running | StepStatus::NeedsQa => Color::Cyan,
        StepStatus::Failed | StepStatus::Blocked => Color::Red,
        StepStatus::Cancelled => Color::Yellow,
        StepStatus::Pending => Color::Reset,
    }
}

/// What a key does.
enum Key {
    Quit,
    Moved,
    Other,
}

fn on_key(key: event::KeyEvent, selected: &mut TableState) -> Key {
    if key.kind != KeyEventKind::Press {
        return Key::Other;
    }
    match key.code {
        KeyCode::Char('q') | KeyCode::Esc => return Key::Quit,
        KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => return Key::Quit,
        KeyCode::Down | KeyCode::Char('j') => selected.select_next(),
        KeyCode::Up | KeyCode::Char('k') => selected.select_previous(),
        KeyCode::Home | KeyCode::Char('g') => selected.select_first(),
        _ => return Key::Other,
    }
    Key::Moved
}

fn tui(
    ctx: &Context,
    terminal: &mut ratatui::DefaultTerminal,
    only: Option<&crate::domain::ProtocolId>,
    mut snap: Snapshot,
) -> Result<Outcome, CliError> {
    let io = |e: std::io::Error| CliError::new(ExitKind::Failed, e);
    let mut selected = TableState::default().with_selected(Some(0));
    let mut refreshed = Instant::now();
    let mut error: Option<String> = None;
    loop {
        let count = snap.protocols.len();
        if count > 0 && selected.selected().is_none_or(|i| i >= count) {
            selected.select(Some(count - 1));
        }
        let note = error.as_deref().map_or_else(
            || {
                format!(
                    " ↑/↓ j/k select · q quit · refreshed {:.1}s ago",
                    refreshed.elapsed().as_secs_f32()
                )
            },
            |e| format!(" read error: {e}"),
        );
        terminal
            .draw(|frame| draw(frame, &snap, &mut selected, &note))
            .map_err(io)?;
        if event::poll(Duration::from_millis(100)).map_err(io)?
            && let Event::Key(key) = event::read().map_err(io)?
            && let Key::Quit = on_key(key, &mut selected)
        {
            return Ok(Outcome::Success);
        }
        if refreshed.elapsed() >= REFRESH {
            match watch::snapshot(ctx, only) {
                Ok(next) => {
                    snap = next;
                    error = None;
                }
                // A file caught mid-rename or a worktree being removed: show it, try again.
                Err(e) => error = Some(e.to_string()),
            }
            refreshed = Instant::now();
        }
    }
}

fn bold() -> Style {
    Style::new().add_modifier(Modifier::BOLD)
}

fn draw(frame: &mut ratatui::Frame<'_>, snap: &Snapshot, selected: &mut TableState, note: &str) {
    let count = snap.protocols.len();
    let jobs = snap.queue.len().max(1);
    let [top, middle, queue, bottom, footer] = Layout::vertical([
        Constraint::Length(u16::try_from(count.min(10)).unwrap_or(10) + 3),
        Constraint::Min(5),
        Constraint::Length(u16::try_from(jobs.min(8)).unwrap_or(8) + 3),
        Constraint::Length(12),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    frame.render_stateful_widget(protocols_table(snap), top, selected);
    let current = selected.selected().and_then(|i| snap.protocols.get(i));
    frame.render_widget(steps_table(current), middle);
    frame.render_widget(queue_table(snap), queue);
    let lines: Vec<Line<'_>> = current
        .map(|p| {
            p.transcript
                .iter()
                .map(|t| Line::from(t.as_str()))
                .collect()
        })
        .unwrap_or_default();
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" latest transcript ")),
        bottom,
    );
    frame.render_widget(
        Paragraph::new(note).style(Style::new().add_modifier(Modifier::DIM)),
        footer,
    );
}

fn protocols_table(snap: &Snapshot) -> Table<'_> {
    let rows = snap.protocols.iter().map(|p| {
        let done = p
            .steps
            .iter()
            .filter(|s| s.status == StepStatus::Completed)
            .count();
        Row::new(vec![
            p.id.to_string(),
            p.status.map_or("unknown", |s| s.as_str()).to_owned(),
            format!("{done}/{}", p.steps.len()),
            p.tokens.to_string(),
            p.cost_usd.display(),
        ])
        .style(Style::new().fg(status_color(p.status)))
    });
    Table::new(
        rows,
        [
            Constraint::Min(24),
            Constraint::Length(10),
            Constraint::Length(7),
            Constraint::Length(10),
            Constraint::Length(10),
        ],
    )
    .header(Row::new(vec!["protocol", "status", "steps", "tokens", "cost"]).style(bold()))
    .block(Block::bordered().title(" godzilla watch · protocols "))
    .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
    .highlight_symbol("> ")
}

fn steps_table(current: Option<&watch::ProtocolPane>) -> Table<'_> {
    let title = current.map_or_else(|| " steps ".to_owned(), |p| format!(" steps of {} ", p.id));
    let rows = current.into_iter().flat_map(|p| &p.steps).map(|s| {
        Row::new(vec![
            s.id.clone(),
            s.status.to_string(),
            s.attempts.to_string(),
            s.running_for.map(elapsed).unwrap_or_default(),
            s.tokens.to_string(),
            s.qa.clone().unwrap_or_default(),
        ])
        .style(Style::new().fg(step_color(s.status)))
    });
    Table::new(
        rows,
        [
            Constraint::Min(20),
            Constraint::Length(10),
            Constraint::Length(9),
            Constraint::Length(9),
            Constraint::Length(10),
            Constraint::Length(8),
        ],
    )
    .header(
        Row::new(vec![
            "step", "status", "attempts", "running", "tokens", "QA",
        ])
        .style(bold()),
    )
    .block(Block::bordered().title(title))
}

fn queue_table(snap: &Snapshot) -> Table<'_> {
    let workers: Vec<String> = snap
        .workers
        .iter()
        .map(|w| format!("{} ({} running)", w.worker, w.jobs.len()))
        .collect();
    let title = format!(
        " {} · workers: {} ",
        queue_summary(snap),
        if workers.is_empty() {
            "none busy".to_owned()
        } else {
            workers.join(", ")
        }
    );
    let rows = snap.queue.iter().map(|j| {
        let color = match j.state {
            JobState::Running => Color::Cyan,
            JobState::Failed | JobState::Stale => Color::Red,
            _ => Color::Reset,
        };
        Row::new(vec![
            j.id.to_string(),
            j.state.to_string(),
            j.attempt.to_string(),
            job_when(j),
            j.what.clone(),
        ])
        .style(Style::new().fg(color))
    });
    Table::new(
        rows,
        [
            Constraint::Length(20),
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Length(34),
            Constraint::Min(20),
        ],
    )
    .header(Row::new(vec!["job", "state", "attempt", "when", "what"]).style(bold()))
    .block(Block::bordered().title(title))
}
