
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'godzilla' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'godzilla'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'godzilla' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Set this repository up for godzilla')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show every protocol and its steps')
            [CompletionResult]::new('fsck', 'fsck', [CompletionResultType]::ParameterValue, 'Check godzilla''s state files against their event logs')
            [CompletionResult]::new('events', 'events', [CompletionResultType]::ParameterValue, 'Show the event stream, optionally following it live')
            [CompletionResult]::new('log', 'log', [CompletionResultType]::ParameterValue, 'Show the event stream, optionally following it live')
            [CompletionResult]::new('cost', 'cost', [CompletionResultType]::ParameterValue, 'Add up tokens and cost per protocol, step, model, engine or phase')
            [CompletionResult]::new('gc', 'gc', [CompletionResultType]::ParameterValue, 'Remove finished protocols'' worktrees and local logs that are safe to remove')
            [CompletionResult]::new('report', 'report', [CompletionResultType]::ParameterValue, 'Report on a protocol: HTML page (timeline, QA, cost chart) or Markdown summary')
            [CompletionResult]::new('watch', 'watch', [CompletionResultType]::ParameterValue, 'Watch protocols, steps, tokens and transcripts live in a terminal view')
            [CompletionResult]::new('protocol', 'protocol', [CompletionResultType]::ParameterValue, 'Create and manage protocols')
            [CompletionResult]::new('step', 'step', [CompletionResultType]::ParameterValue, 'Run and inspect single steps')
            [CompletionResult]::new('allow', 'allow', [CompletionResultType]::ParameterValue, 'Trust the commands this repository''s config defines ([checks], engine profiles)')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Check git, the configuration and every engine, with hints for what is missing')
            [CompletionResult]::new('import', 'import', [CompletionResultType]::ParameterValue, 'Create a protocol from a CodeMachine workspace or a Spec Kit feature')
            [CompletionResult]::new('qa', 'qa', [CompletionResultType]::ParameterValue, 'Run QA on a step''s last attempt: checks, then an LLM review (policy full)')
            [CompletionResult]::new('clarify', 'clarify', [CompletionResultType]::ParameterValue, 'Questions that stop runs until a person answers them')
            [CompletionResult]::new('discover', 'discover', [CompletionResultType]::ParameterValue, 'Discover the repository''s stack, commands and CI with an engine (read-only)')
            [CompletionResult]::new('spec', 'spec', [CompletionResultType]::ParameterValue, 'Show a protocol''s spec, or rebuild and validate it from the step files')
            [CompletionResult]::new('prompts', 'prompts', [CompletionResultType]::ParameterValue, 'Show which prompt template each role uses')
            [CompletionResult]::new('notes', 'notes', [CompletionResultType]::ParameterValue, 'Read and write the records godzilla attaches to commits (refs/notes/godzilla)')
            [CompletionResult]::new('sync', 'sync', [CompletionResultType]::ParameterValue, 'Push and fetch protocol branches and refs/notes/godzilla with a remote')
            [CompletionResult]::new('pr', 'pr', [CompletionResultType]::ParameterValue, 'Open and inspect a protocol''s pull/merge request (gh or glab)')
            [CompletionResult]::new('ci', 'ci', [CompletionResultType]::ParameterValue, 'Run protocols on CI runners: leases, workflow files, triggering and status')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'Run a whole protocol offline with the built-in replay engine (no API keys needed)')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print or write the manual pages')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'godzilla;init' {
            [CompletionResult]::new('--base-branch', '--base-branch', [CompletionResultType]::ParameterName, 'Branch protocols start from (default: the current branch)')
            [CompletionResult]::new('--ci', '--ci', [CompletionResultType]::ParameterName, 'CI provider to integrate with')
            [CompletionResult]::new('--engine', '--engine', [CompletionResultType]::ParameterName, 'Engine to use for every phase (codex, claude, opencode, gemini, replay, or a profile)')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Rewrite `.godzilla/config.toml` from the template even if it exists')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;status' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;fsck' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--repair', '--repair', [CompletionResultType]::ParameterName, 'Mend torn log lines and rebuild stale views, and say what changed')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;events' {
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Only events at or after this time: RFC 3339 (`2026-01-02T10:00:00Z`) or a duration back from now (`10m`, `2h`)')
            [CompletionResult]::new('--type', '--type', [CompletionResultType]::ParameterName, 'Only events of this type (repeatable, comma-separated; `qa_*` matches a prefix). The README lists every type')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Keep printing new events as they are written')
            [CompletionResult]::new('--follow', '--follow', [CompletionResultType]::ParameterName, 'Keep printing new events as they are written')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;log' {
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Only events at or after this time: RFC 3339 (`2026-01-02T10:00:00Z`) or a duration back from now (`10m`, `2h`)')
            [CompletionResult]::new('--type', '--type', [CompletionResultType]::ParameterName, 'Only events of this type (repeatable, comma-separated; `qa_*` matches a prefix). The README lists every type')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Keep printing new events as they are written')
            [CompletionResult]::new('--follow', '--follow', [CompletionResultType]::ParameterName, 'Keep printing new events as they are written')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;cost' {
            [CompletionResult]::new('--by', '--by', [CompletionResultType]::ParameterName, 'How to group the runs')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;gc' {
            [CompletionResult]::new('--older-than', '--older-than', [CompletionResultType]::ParameterName, 'Only protocols idle (no event) for at least this long, e.g. `7d`, `12h`')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Say what would be removed; remove nothing')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Say what would be removed; remove nothing')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;report' {
            [CompletionResult]::new('--html', '--html', [CompletionResultType]::ParameterName, 'Write the HTML page to FILE (`-` for stdout)')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--md', '--md', [CompletionResultType]::ParameterName, 'Print the Markdown summary')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;watch' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;protocol' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('new', 'new', [CompletionResultType]::ParameterValue, 'Create a protocol: a numbered branch `godzilla/NNNN-slug`, its own worktree, a header and an event log, its steps (planned by an engine, or from files), all committed on the new branch. Exit 3 when planning fails (the protocol is then `blocked`)')
            [CompletionResult]::new('plan', 'plan', [CompletionResultType]::ParameterValue, 'Plan a pending protocol, or plan again one whose planning failed')
            [CompletionResult]::new('decompose', 'decompose', [CompletionResultType]::ParameterValue, 'Refine complex pending steps in place with the decompose engine (read-only)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List protocols (the same as `godzilla status`)')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a protocol: header, steps with their specs, plan, recent events')
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Run a protocol: plan if needed, then execute → QA → policies step by step until it is completed (exit 0) or a clear stop: blocked, paused, budget, clarification, approval (exit 3, with the reason). Interrupted, the same command resumes from the events')
            [CompletionResult]::new('retry', 'retry', [CompletionResultType]::ParameterValue, 'Ask for a new attempt of a failed or blocked step (the last one when none is named)')
            [CompletionResult]::new('approve', 'approve', [CompletionResultType]::ParameterValue, 'Approve a step by hand (one marked as needing a person, or one QA failed or blocked)')
            [CompletionResult]::new('pause', 'pause', [CompletionResultType]::ParameterValue, 'Pause a protocol: no engine run starts until it is resumed')
            [CompletionResult]::new('resume', 'resume', [CompletionResultType]::ParameterValue, 'Resume a paused protocol')
            [CompletionResult]::new('cancel', 'cancel', [CompletionResultType]::ParameterValue, 'Cancel a protocol and its open steps')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'godzilla;protocol;new' {
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'What the protocol should achieve')
            [CompletionResult]::new('--description', '--description', [CompletionResultType]::ParameterName, 'What the protocol should achieve')
            [CompletionResult]::new('--base', '--base', [CompletionResultType]::ParameterName, 'Branch to start from (default: project.base_branch)')
            [CompletionResult]::new('--steps-from', '--steps-from', [CompletionResultType]::ParameterName, 'Take the steps from the `NN-slug.md` files in DIR instead of planning')
            [CompletionResult]::new('--engine', '--engine', [CompletionResultType]::ParameterName, 'Engine to plan with (overrides [phases.planning])')
            [CompletionResult]::new('--model', '--model', [CompletionResultType]::ParameterName, 'Model to plan with')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Wall-clock limit of the planning run, in seconds')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--no-plan', '--no-plan', [CompletionResultType]::ParameterName, 'Create the protocol without planning it (`godzilla protocol plan` later)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;protocol;plan' {
            [CompletionResult]::new('--engine', '--engine', [CompletionResultType]::ParameterName, 'Engine to plan with (overrides [phases.planning])')
            [CompletionResult]::new('--model', '--model', [CompletionResultType]::ParameterName, 'Model to plan with')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Wall-clock limit of the planning run, in seconds')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;protocol;decompose' {
            [CompletionResult]::new('--step', '--step', [CompletionResultType]::ParameterName, 'Only this step (`NN-slug`)')
            [CompletionResult]::new('--engine', '--engine', [CompletionResultType]::ParameterName, 'Engine to use (overrides [phases.decompose])')
            [CompletionResult]::new('--model', '--model', [CompletionResultType]::ParameterName, 'Model to use')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Wall-clock limit of each engine run, in seconds')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Refine steps even when they are simple')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;protocol;list' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;protocol;show' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;protocol;run' {
            [CompletionResult]::new('--until', '--until', [CompletionResultType]::ParameterName, 'Stop once this step is completed')
            [CompletionResult]::new('--engine', '--engine', [CompletionResultType]::ParameterName, 'Engine to plan with (overrides [phases.planning])')
            [CompletionResult]::new('--model', '--model', [CompletionResultType]::ParameterName, 'Model to plan with')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Wall-clock limit of the planning run, in seconds')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Approve steps that need a person (this flag is that person''s consent)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;protocol;retry' {
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why, recorded in the event')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;protocol;approve' {
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why, recorded in the event')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;protocol;pause' {
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why, recorded in the event')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;protocol;resume' {
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why, recorded in the event')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;protocol;cancel' {
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why, recorded in the event')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;protocol;help' {
            [CompletionResult]::new('new', 'new', [CompletionResultType]::ParameterValue, 'Create a protocol: a numbered branch `godzilla/NNNN-slug`, its own worktree, a header and an event log, its steps (planned by an engine, or from files), all committed on the new branch. Exit 3 when planning fails (the protocol is then `blocked`)')
            [CompletionResult]::new('plan', 'plan', [CompletionResultType]::ParameterValue, 'Plan a pending protocol, or plan again one whose planning failed')
            [CompletionResult]::new('decompose', 'decompose', [CompletionResultType]::ParameterValue, 'Refine complex pending steps in place with the decompose engine (read-only)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List protocols (the same as `godzilla status`)')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a protocol: header, steps with their specs, plan, recent events')
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Run a protocol: plan if needed, then execute → QA → policies step by step until it is completed (exit 0) or a clear stop: blocked, paused, budget, clarification, approval (exit 3, with the reason). Interrupted, the same command resumes from the events')
            [CompletionResult]::new('retry', 'retry', [CompletionResultType]::ParameterValue, 'Ask for a new attempt of a failed or blocked step (the last one when none is named)')
            [CompletionResult]::new('approve', 'approve', [CompletionResultType]::ParameterValue, 'Approve a step by hand (one marked as needing a person, or one QA failed or blocked)')
            [CompletionResult]::new('pause', 'pause', [CompletionResultType]::ParameterValue, 'Pause a protocol: no engine run starts until it is resumed')
            [CompletionResult]::new('resume', 'resume', [CompletionResultType]::ParameterValue, 'Resume a paused protocol')
            [CompletionResult]::new('cancel', 'cancel', [CompletionResultType]::ParameterValue, 'Cancel a protocol and its open steps')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'godzilla;protocol;help;new' {
            break
        }
        'godzilla;protocol;help;plan' {
            break
        }
        'godzilla;protocol;help;decompose' {
            break
        }
        'godzilla;protocol;help;list' {
            break
        }
        'godzilla;protocol;help;show' {
            break
        }
        'godzilla;protocol;help;run' {
            break
        }
        'godzilla;protocol;help;retry' {
            break
        }
        'godzilla;protocol;help;approve' {
            break
        }
        'godzilla;protocol;help;pause' {
            break
        }
        'godzilla;protocol;help;resume' {
            break
        }
        'godzilla;protocol;help;cancel' {
            break
        }
        'godzilla;protocol;help;help' {
            break
        }
        'godzilla;step' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Run one attempt of a step through an engine, headless, in the protocol''s worktree')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a step: status, attempts, usage, cost, commits and its last output')
            [CompletionResult]::new('log', 'log', [CompletionResultType]::ParameterValue, 'Show a step''s live transcripts: what the agent said, the tools it called, the commands it ran with their exit codes, and tokens so far, run by run')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'godzilla;step;run' {
            [CompletionResult]::new('--engine', '--engine', [CompletionResultType]::ParameterName, 'Engine to use (overrides the step spec and config)')
            [CompletionResult]::new('--model', '--model', [CompletionResultType]::ParameterName, 'Model to use')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Wall-clock limit in seconds')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Show what would run (engine, model, prompt fingerprint, limits) and run nothing')
            [CompletionResult]::new('--print-prompt', '--print-prompt', [CompletionResultType]::ParameterName, 'Print the rendered prompt on stdout and run nothing')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;step;show' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;step;log' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Keep printing new entries as they are written')
            [CompletionResult]::new('--follow', '--follow', [CompletionResultType]::ParameterName, 'Keep printing new entries as they are written')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;step;help' {
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Run one attempt of a step through an engine, headless, in the protocol''s worktree')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a step: status, attempts, usage, cost, commits and its last output')
            [CompletionResult]::new('log', 'log', [CompletionResultType]::ParameterValue, 'Show a step''s live transcripts: what the agent said, the tools it called, the commands it ran with their exit codes, and tokens so far, run by run')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'godzilla;step;help;run' {
            break
        }
        'godzilla;step;help;show' {
            break
        }
        'godzilla;step;help;log' {
            break
        }
        'godzilla;step;help;help' {
            break
        }
        'godzilla;allow' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;doctor' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--run', '--run', [CompletionResultType]::ParameterName, 'Also run each installed engine a phase uses once on a trivial read-only prompt and check that its output parses (spends a few tokens)')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'With --run, try every installed engine, not only those the phases use')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;import' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('codemachine', 'codemachine', [CompletionResultType]::ParameterValue, 'Import a CodeMachine workspace (`.codemachine/`): main agents become steps with their engine, model and prompt; loop and trigger modules become step policies')
            [CompletionResult]::new('speckit', 'speckit', [CompletionResultType]::ParameterValue, 'Import a Spec Kit feature folder (`specs/NNN-feature/`): one step per phase of `tasks.md`, `plan.md` as the plan')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'godzilla;import;codemachine' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Short name of the protocol (default: from the source)')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Description (default: from the source)')
            [CompletionResult]::new('--description', '--description', [CompletionResultType]::ParameterName, 'Description (default: from the source)')
            [CompletionResult]::new('--base', '--base', [CompletionResultType]::ParameterName, 'Branch to start from')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;import;speckit' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Short name of the protocol (default: from the source)')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Description (default: from the source)')
            [CompletionResult]::new('--description', '--description', [CompletionResultType]::ParameterName, 'Description (default: from the source)')
            [CompletionResult]::new('--base', '--base', [CompletionResultType]::ParameterName, 'Branch to start from')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;import;help' {
            [CompletionResult]::new('codemachine', 'codemachine', [CompletionResultType]::ParameterValue, 'Import a CodeMachine workspace (`.codemachine/`): main agents become steps with their engine, model and prompt; loop and trigger modules become step policies')
            [CompletionResult]::new('speckit', 'speckit', [CompletionResultType]::ParameterValue, 'Import a Spec Kit feature folder (`specs/NNN-feature/`): one step per phase of `tasks.md`, `plan.md` as the plan')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'godzilla;import;help;codemachine' {
            break
        }
        'godzilla;import;help;speckit' {
            break
        }
        'godzilla;import;help;help' {
            break
        }
        'godzilla;qa' {
            [CompletionResult]::new('--engine', '--engine', [CompletionResultType]::ParameterName, 'Engine for the review')
            [CompletionResult]::new('--model', '--model', [CompletionResultType]::ParameterName, 'Model for the review')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Wall-clock limit of the review, in seconds')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;clarify' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List questions of the project (and of a protocol)')
            [CompletionResult]::new('answer', 'answer', [CompletionResultType]::ParameterValue, 'Answer a question; a blocked run can go on')
            [CompletionResult]::new('ask', 'ask', [CompletionResultType]::ParameterValue, 'Ask a question (project scope unless `--protocol`)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'godzilla;clarify;list' {
            [CompletionResult]::new('--protocol', '--protocol', [CompletionResultType]::ParameterName, 'A protocol (`NNNN-slug`); without it, project questions only')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;clarify;answer' {
            [CompletionResult]::new('--protocol', '--protocol', [CompletionResultType]::ParameterName, 'A protocol (`NNNN-slug`); without it, project questions only')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;clarify;ask' {
            [CompletionResult]::new('--protocol', '--protocol', [CompletionResultType]::ParameterName, 'A protocol (`NNNN-slug`); without it, project questions only')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--blocking', '--blocking', [CompletionResultType]::ParameterName, 'Stop runs until it is answered')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;clarify;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List questions of the project (and of a protocol)')
            [CompletionResult]::new('answer', 'answer', [CompletionResultType]::ParameterValue, 'Answer a question; a blocked run can go on')
            [CompletionResult]::new('ask', 'ask', [CompletionResultType]::ParameterValue, 'Ask a question (project scope unless `--protocol`)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'godzilla;clarify;help;list' {
            break
        }
        'godzilla;clarify;help;answer' {
            break
        }
        'godzilla;clarify;help;ask' {
            break
        }
        'godzilla;clarify;help;help' {
            break
        }
        'godzilla;discover' {
            [CompletionResult]::new('--engine', '--engine', [CompletionResultType]::ParameterName, 'Engine to use (overrides [phases.discovery])')
            [CompletionResult]::new('--model', '--model', [CompletionResultType]::ParameterName, 'Model to use')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Wall-clock limit of the engine run, in seconds')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--apply', '--apply', [CompletionResultType]::ParameterName, 'Also set the build, test and lint `[checks]` in .godzilla/config.toml from the report (comments and other settings are kept; commands that need a shell are not applied)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;spec' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a protocol''s stored spec and its hash: one line per step with its type, QA policy, engine and model, and policies')
            [CompletionResult]::new('validate', 'validate', [CompletionResultType]::ParameterValue, 'Rebuild the spec from the step files (keeping what the stored spec says about each step), validate it (schema and paths) and store it when valid')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'godzilla;spec;show' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;spec;validate' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;spec;help' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a protocol''s stored spec and its hash: one line per step with its type, QA policy, engine and model, and policies')
            [CompletionResult]::new('validate', 'validate', [CompletionResultType]::ParameterValue, 'Rebuild the spec from the step files (keeping what the stored spec says about each step), validate it (schema and paths) and store it when valid')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'godzilla;spec;help;show' {
            break
        }
        'godzilla;spec;help;validate' {
            break
        }
        'godzilla;spec;help;help' {
            break
        }
        'godzilla;prompts' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the roles, where each one''s template comes from and its fingerprint')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print the template a role uses')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'godzilla;prompts;list' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;prompts;show' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;prompts;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the roles, where each one''s template comes from and its fingerprint')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print the template a role uses')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'godzilla;prompts;help;list' {
            break
        }
        'godzilla;prompts;help;show' {
            break
        }
        'godzilla;prompts;help;help' {
            break
        }
        'godzilla;notes' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print the records attached to a commit, one JSON object per line')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Attach a record (one JSON object) to a commit, safely alongside other writers')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'godzilla;notes;show' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;notes;add' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;notes;help' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print the records attached to a commit, one JSON object per line')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Attach a record (one JSON object) to a commit, safely alongside other writers')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'godzilla;notes;help;show' {
            break
        }
        'godzilla;notes;help;add' {
            break
        }
        'godzilla;notes;help;help' {
            break
        }
        'godzilla;sync' {
            [CompletionResult]::new('--remote', '--remote', [CompletionResultType]::ParameterName, 'The remote (a configured remote''s name)')
            [CompletionResult]::new('--lease', '--lease', [CompletionResultType]::ParameterName, 'Publish only while holding this lease (`PROTOCOL` or `PROTOCOL/STEP`)')
            [CompletionResult]::new('--attempts', '--attempts', [CompletionResultType]::ParameterName, 'Rounds of fetch, merge and push before giving up on rejected pushes')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--no-push', '--no-push', [CompletionResultType]::ParameterName, 'Fetch and merge only')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;pr' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('open', 'open', [CompletionResultType]::ParameterValue, 'Push the protocol''s branch and open its PR/MR, or update the one already open')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show the protocol''s PR/MR: state, review decision and checks')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'godzilla;pr;open' {
            [CompletionResult]::new('--remote', '--remote', [CompletionResultType]::ParameterName, 'The remote to push the branch to first')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--draft', '--draft', [CompletionResultType]::ParameterName, 'Open it as a draft')
            [CompletionResult]::new('--no-push', '--no-push', [CompletionResultType]::ParameterName, 'Do not push the branch first')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;pr;status' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;pr;help' {
            [CompletionResult]::new('open', 'open', [CompletionResultType]::ParameterValue, 'Push the protocol''s branch and open its PR/MR, or update the one already open')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show the protocol''s PR/MR: state, review decision and checks')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'godzilla;pr;help;open' {
            break
        }
        'godzilla;pr;help;status' {
            break
        }
        'godzilla;pr;help;help' {
            break
        }
        'godzilla;ci' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('claim', 'claim', [CompletionResultType]::ParameterValue, 'Claim a protocol or step for this runner through the remote (exit 3 when someone else holds it)')
            [CompletionResult]::new('release', 'release', [CompletionResultType]::ParameterValue, 'Give a claimed protocol or step back')
            [CompletionResult]::new('trigger', 'trigger', [CompletionResultType]::ParameterValue, 'Start CI on a protocol''s branch (`gh workflow run` or `glab ci run`)')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show the CI checks of a protocol''s branch and record the outcome (exit 3 on failure)')
            [CompletionResult]::new('generate', 'generate', [CompletionResultType]::ParameterValue, 'Write a workflow that runs a protocol on CI runners (.github/workflows/ or .gitlab-ci.yml): one job per step, leases, sync, and the PR opened at the end')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'godzilla;ci;claim' {
            [CompletionResult]::new('--remote', '--remote', [CompletionResultType]::ParameterName, 'The remote runners share')
            [CompletionResult]::new('--ttl', '--ttl', [CompletionResultType]::ParameterName, 'How long the lease lasts, in seconds')
            [CompletionResult]::new('--holder', '--holder', [CompletionResultType]::ParameterName, 'Who claims it (default: the CI job, or host and pid)')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;ci;release' {
            [CompletionResult]::new('--remote', '--remote', [CompletionResultType]::ParameterName, 'The remote runners share')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;ci;trigger' {
            [CompletionResult]::new('--workflow', '--workflow', [CompletionResultType]::ParameterName, 'The GitHub workflow file (default: the one `ci generate` writes for the protocol)')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;ci;status' {
            [CompletionResult]::new('--interval', '--interval', [CompletionResultType]::ParameterName, 'Seconds between polls with --watch')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--watch', '--watch', [CompletionResultType]::ParameterName, 'Poll until no check is pending')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;ci;generate' {
            [CompletionResult]::new('--install', '--install', [CompletionResultType]::ParameterName, 'How runners install godzilla')
            [CompletionResult]::new('--ttl', '--ttl', [CompletionResultType]::ParameterName, 'Lease length of each job, in seconds')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--no-pr', '--no-pr', [CompletionResultType]::ParameterName, 'Do not open the PR/MR at the end')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;ci;help' {
            [CompletionResult]::new('claim', 'claim', [CompletionResultType]::ParameterValue, 'Claim a protocol or step for this runner through the remote (exit 3 when someone else holds it)')
            [CompletionResult]::new('release', 'release', [CompletionResultType]::ParameterValue, 'Give a claimed protocol or step back')
            [CompletionResult]::new('trigger', 'trigger', [CompletionResultType]::ParameterValue, 'Start CI on a protocol''s branch (`gh workflow run` or `glab ci run`)')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show the CI checks of a protocol''s branch and record the outcome (exit 3 on failure)')
            [CompletionResult]::new('generate', 'generate', [CompletionResultType]::ParameterValue, 'Write a workflow that runs a protocol on CI runners (.github/workflows/ or .gitlab-ci.yml): one job per step, leases, sync, and the PR opened at the end')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'godzilla;ci;help;claim' {
            break
        }
        'godzilla;ci;help;release' {
            break
        }
        'godzilla;ci;help;trigger' {
            break
        }
        'godzilla;ci;help;status' {
            break
        }
        'godzilla;ci;help;generate' {
            break
        }
        'godzilla;ci;help;help' {
            break
        }
        'godzilla;demo' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Where to put the scratch repository (new or empty; default: a new temp directory)')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;completions' {
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;man' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Write `godzilla.1` and one page per subcommand into DIR')
            [CompletionResult]::new('-C', '-C ', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--directory', '--directory', [CompletionResultType]::ParameterName, 'Run as if started in DIR')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print machine-readable JSON on stdout (a stable contract)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only print errors and warnings on stderr')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v debug, -vv trace)')
            [CompletionResult]::new('--trust-config', '--trust-config', [CompletionResultType]::ParameterName, 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'godzilla;help' {
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Set this repository up for godzilla')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show every protocol and its steps')
            [CompletionResult]::new('fsck', 'fsck', [CompletionResultType]::ParameterValue, 'Check godzilla''s state files against their event logs')
            [CompletionResult]::new('events', 'events', [CompletionResultType]::ParameterValue, 'Show the event stream, optionally following it live')
            [CompletionResult]::new('cost', 'cost', [CompletionResultType]::ParameterValue, 'Add up tokens and cost per protocol, step, model, engine or phase')
            [CompletionResult]::new('gc', 'gc', [CompletionResultType]::ParameterValue, 'Remove finished protocols'' worktrees and local logs that are safe to remove')
            [CompletionResult]::new('report', 'report', [CompletionResultType]::ParameterValue, 'Report on a protocol: HTML page (timeline, QA, cost chart) or Markdown summary')
            [CompletionResult]::new('watch', 'watch', [CompletionResultType]::ParameterValue, 'Watch protocols, steps, tokens and transcripts live in a terminal view')
            [CompletionResult]::new('protocol', 'protocol', [CompletionResultType]::ParameterValue, 'Create and manage protocols')
            [CompletionResult]::new('step', 'step', [CompletionResultType]::ParameterValue, 'Run and inspect single steps')
            [CompletionResult]::new('allow', 'allow', [CompletionResultType]::ParameterValue, 'Trust the commands this repository''s config defines ([checks], engine profiles)')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Check git, the configuration and every engine, with hints for what is missing')
            [CompletionResult]::new('import', 'import', [CompletionResultType]::ParameterValue, 'Create a protocol from a CodeMachine workspace or a Spec Kit feature')
            [CompletionResult]::new('qa', 'qa', [CompletionResultType]::ParameterValue, 'Run QA on a step''s last attempt: checks, then an LLM review (policy full)')
            [CompletionResult]::new('clarify', 'clarify', [CompletionResultType]::ParameterValue, 'Questions that stop runs until a person answers them')
            [CompletionResult]::new('discover', 'discover', [CompletionResultType]::ParameterValue, 'Discover the repository''s stack, commands and CI with an engine (read-only)')
            [CompletionResult]::new('spec', 'spec', [CompletionResultType]::ParameterValue, 'Show a protocol''s spec, or rebuild and validate it from the step files')
            [CompletionResult]::new('prompts', 'prompts', [CompletionResultType]::ParameterValue, 'Show which prompt template each role uses')
            [CompletionResult]::new('notes', 'notes', [CompletionResultType]::ParameterValue, 'Read and write the records godzilla attaches to commits (refs/notes/godzilla)')
            [CompletionResult]::new('sync', 'sync', [CompletionResultType]::ParameterValue, 'Push and fetch protocol branches and refs/notes/godzilla with a remote')
            [CompletionResult]::new('pr', 'pr', [CompletionResultType]::ParameterValue, 'Open and inspect a protocol''s pull/merge request (gh or glab)')
            [CompletionResult]::new('ci', 'ci', [CompletionResultType]::ParameterValue, 'Run protocols on CI runners: leases, workflow files, triggering and status')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'Run a whole protocol offline with the built-in replay engine (no API keys needed)')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print or write the manual pages')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'godzilla;help;init' {
            break
        }
        'godzilla;help;status' {
            break
        }
        'godzilla;help;fsck' {
            break
        }
        'godzilla;help;events' {
            break
        }
        'godzilla;help;cost' {
            break
        }
        'godzilla;help;gc' {
            break
        }
        'godzilla;help;report' {
            break
        }
        'godzilla;help;watch' {
            break
        }
        'godzilla;help;protocol' {
            [CompletionResult]::new('new', 'new', [CompletionResultType]::ParameterValue, 'Create a protocol: a numbered branch `godzilla/NNNN-slug`, its own worktree, a header and an event log, its steps (planned by an engine, or from files), all committed on the new branch. Exit 3 when planning fails (the protocol is then `blocked`)')
            [CompletionResult]::new('plan', 'plan', [CompletionResultType]::ParameterValue, 'Plan a pending protocol, or plan again one whose planning failed')
            [CompletionResult]::new('decompose', 'decompose', [CompletionResultType]::ParameterValue, 'Refine complex pending steps in place with the decompose engine (read-only)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List protocols (the same as `godzilla status`)')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a protocol: header, steps with their specs, plan, recent events')
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Run a protocol: plan if needed, then execute → QA → policies step by step until it is completed (exit 0) or a clear stop: blocked, paused, budget, clarification, approval (exit 3, with the reason). Interrupted, the same command resumes from the events')
            [CompletionResult]::new('retry', 'retry', [CompletionResultType]::ParameterValue, 'Ask for a new attempt of a failed or blocked step (the last one when none is named)')
            [CompletionResult]::new('approve', 'approve', [CompletionResultType]::ParameterValue, 'Approve a step by hand (one marked as needing a person, or one QA failed or blocked)')
            [CompletionResult]::new('pause', 'pause', [CompletionResultType]::ParameterValue, 'Pause a protocol: no engine run starts until it is resumed')
            [CompletionResult]::new('resume', 'resume', [CompletionResultType]::ParameterValue, 'Resume a paused protocol')
            [CompletionResult]::new('cancel', 'cancel', [CompletionResultType]::ParameterValue, 'Cancel a protocol and its open steps')
            break
        }
        'godzilla;help;protocol;new' {
            break
        }
        'godzilla;help;protocol;plan' {
            break
        }
        'godzilla;help;protocol;decompose' {
            break
        }
        'godzilla;help;protocol;list' {
            break
        }
        'godzilla;help;protocol;show' {
            break
        }
        'godzilla;help;protocol;run' {
            break
        }
        'godzilla;help;protocol;retry' {
            break
        }
        'godzilla;help;protocol;approve' {
            break
        }
        'godzilla;help;protocol;pause' {
            break
        }
        'godzilla;help;protocol;resume' {
            break
        }
        'godzilla;help;protocol;cancel' {
            break
        }
        'godzilla;help;step' {
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Run one attempt of a step through an engine, headless, in the protocol''s worktree')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a step: status, attempts, usage, cost, commits and its last output')
            [CompletionResult]::new('log', 'log', [CompletionResultType]::ParameterValue, 'Show a step''s live transcripts: what the agent said, the tools it called, the commands it ran with their exit codes, and tokens so far, run by run')
            break
        }
        'godzilla;help;step;run' {
            break
        }
        'godzilla;help;step;show' {
            break
        }
        'godzilla;help;step;log' {
            break
        }
        'godzilla;help;allow' {
            break
        }
        'godzilla;help;doctor' {
            break
        }
        'godzilla;help;import' {
            [CompletionResult]::new('codemachine', 'codemachine', [CompletionResultType]::ParameterValue, 'Import a CodeMachine workspace (`.codemachine/`): main agents become steps with their engine, model and prompt; loop and trigger modules become step policies')
            [CompletionResult]::new('speckit', 'speckit', [CompletionResultType]::ParameterValue, 'Import a Spec Kit feature folder (`specs/NNN-feature/`): one step per phase of `tasks.md`, `plan.md` as the plan')
            break
        }
        'godzilla;help;import;codemachine' {
            break
        }
        'godzilla;help;import;speckit' {
            break
        }
        'godzilla;help;qa' {
            break
        }
        'godzilla;help;clarify' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List questions of the project (and of a protocol)')
            [CompletionResult]::new('answer', 'answer', [CompletionResultType]::ParameterValue, 'Answer a question; a blocked run can go on')
            [CompletionResult]::new('ask', 'ask', [CompletionResultType]::ParameterValue, 'Ask a question (project scope unless `--protocol`)')
            break
        }
        'godzilla;help;clarify;list' {
            break
        }
        'godzilla;help;clarify;answer' {
            break
        }
        'godzilla;help;clarify;ask' {
            break
        }
        'godzilla;help;discover' {
            break
        }
        'godzilla;help;spec' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a protocol''s stored spec and its hash: one line per step with its type, QA policy, engine and model, and policies')
            [CompletionResult]::new('validate', 'validate', [CompletionResultType]::ParameterValue, 'Rebuild the spec from the step files (keeping what the stored spec says about each step), validate it (schema and paths) and store it when valid')
            break
        }
        'godzilla;help;spec;show' {
            break
        }
        'godzilla;help;spec;validate' {
            break
        }
        'godzilla;help;prompts' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the roles, where each one''s template comes from and its fingerprint')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print the template a role uses')
            break
        }
        'godzilla;help;prompts;list' {
            break
        }
        'godzilla;help;prompts;show' {
            break
        }
        'godzilla;help;notes' {
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Print the records attached to a commit, one JSON object per line')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Attach a record (one JSON object) to a commit, safely alongside other writers')
            break
        }
        'godzilla;help;notes;show' {
            break
        }
        'godzilla;help;notes;add' {
            break
        }
        'godzilla;help;sync' {
            break
        }
        'godzilla;help;pr' {
            [CompletionResult]::new('open', 'open', [CompletionResultType]::ParameterValue, 'Push the protocol''s branch and open its PR/MR, or update the one already open')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show the protocol''s PR/MR: state, review decision and checks')
            break
        }
        'godzilla;help;pr;open' {
            break
        }
        'godzilla;help;pr;status' {
            break
        }
        'godzilla;help;ci' {
            [CompletionResult]::new('claim', 'claim', [CompletionResultType]::ParameterValue, 'Claim a protocol or step for this runner through the remote (exit 3 when someone else holds it)')
            [CompletionResult]::new('release', 'release', [CompletionResultType]::ParameterValue, 'Give a claimed protocol or step back')
            [CompletionResult]::new('trigger', 'trigger', [CompletionResultType]::ParameterValue, 'Start CI on a protocol''s branch (`gh workflow run` or `glab ci run`)')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show the CI checks of a protocol''s branch and record the outcome (exit 3 on failure)')
            [CompletionResult]::new('generate', 'generate', [CompletionResultType]::ParameterValue, 'Write a workflow that runs a protocol on CI runners (.github/workflows/ or .gitlab-ci.yml): one job per step, leases, sync, and the PR opened at the end')
            break
        }
        'godzilla;help;ci;claim' {
            break
        }
        'godzilla;help;ci;release' {
            break
        }
        'godzilla;help;ci;trigger' {
            break
        }
        'godzilla;help;ci;status' {
            break
        }
        'godzilla;help;ci;generate' {
            break
        }
        'godzilla;help;demo' {
            break
        }
        'godzilla;help;completions' {
            break
        }
        'godzilla;help;man' {
            break
        }
        'godzilla;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
