# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_godzilla_global_optspecs
    string join \n C/directory= json q/quiet v/verbose trust-config color= h/help V/version
end

function __fish_godzilla_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_godzilla_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_godzilla_using_subcommand
    set -l cmd (__fish_godzilla_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c godzilla -n "__fish_godzilla_needs_command" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_needs_command" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_needs_command" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_needs_command" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_needs_command" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_needs_command" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_needs_command" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_needs_command" -f -a "init" -d 'Set this repository up for godzilla'
complete -c godzilla -n "__fish_godzilla_needs_command" -f -a "status" -d 'Show every protocol and its steps'
complete -c godzilla -n "__fish_godzilla_needs_command" -f -a "fsck" -d 'Check godzilla\'s state files against their event logs'
complete -c godzilla -n "__fish_godzilla_needs_command" -f -a "events" -d 'Show the event stream, optionally following it live'
complete -c godzilla -n "__fish_godzilla_needs_command" -f -a "log" -d 'Show the event stream, optionally following it live'
complete -c godzilla -n "__fish_godzilla_needs_command" -f -a "cost" -d 'Add up tokens and cost per protocol, step, model, engine or phase'
complete -c godzilla -n "__fish_godzilla_needs_command" -f -a "gc" -d 'Remove finished protocols\' worktrees and local logs that are safe to remove'
complete -c godzilla -n "__fish_godzilla_needs_command" -f -a "report" -d 'Report on a protocol: HTML page (timeline, QA, cost chart) or Markdown summary'
complete -c godzilla -n "__fish_godzilla_needs_command" -f -a "watch" -d 'Watch protocols, steps, tokens and transcripts live in a terminal view'
complete -c godzilla -n "__fish_godzilla_needs_command" -f -a "protocol" -d 'Create and manage protocols'
complete -c godzilla -n "__fish_godzilla_needs_command" -f -a "step" -d 'Run and inspect single steps'
complete -c godzilla -n "__fish_godzilla_needs_command" -f -a "allow" -d 'Trust the commands this repository\'s config defines ([checks], engine profiles)'
complete -c godzilla -n "__fish_godzilla_needs_command" -f -a "doctor" -d 'Check git, the configuration and every engine, with hints for what is missing'
complete -c godzilla -n "__fish_godzilla_needs_command" -f -a "import" -d 'Create a protocol from a CodeMachine workspace or a Spec Kit feature'
complete -c godzilla -n "__fish_godzilla_needs_command" -f -a "qa" -d 'Run QA on a step\'s last attempt: checks, then an LLM review (policy full)'
complete -c godzilla -n "__fish_godzilla_needs_command" -f -a "clarify" -d 'Questions that stop runs until a person answers them'
complete -c godzilla -n "__fish_godzilla_needs_command" -f -a "discover" -d 'Discover the repository\'s stack, commands and CI with an engine (read-only)'
complete -c godzilla -n "__fish_godzilla_needs_command" -f -a "spec" -d 'Show a protocol\'s spec, or rebuild and validate it from the step files'
complete -c godzilla -n "__fish_godzilla_needs_command" -f -a "prompts" -d 'Show which prompt template each role uses'
complete -c godzilla -n "__fish_godzilla_needs_command" -f -a "notes" -d 'Read and write the records godzilla attaches to commits (refs/notes/godzilla)'
complete -c godzilla -n "__fish_godzilla_needs_command" -f -a "sync" -d 'Push and fetch protocol branches and refs/notes/godzilla with a remote'
complete -c godzilla -n "__fish_godzilla_needs_command" -f -a "pr" -d 'Open and inspect a protocol\'s pull/merge request (gh or glab)'
complete -c godzilla -n "__fish_godzilla_needs_command" -f -a "ci" -d 'Run protocols on CI runners: leases, workflow files, triggering and status'
complete -c godzilla -n "__fish_godzilla_needs_command" -f -a "demo" -d 'Run a whole protocol offline with the built-in replay engine (no API keys needed)'
complete -c godzilla -n "__fish_godzilla_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c godzilla -n "__fish_godzilla_needs_command" -f -a "man" -d 'Print or write the manual pages'
complete -c godzilla -n "__fish_godzilla_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c godzilla -n "__fish_godzilla_using_subcommand init" -l base-branch -d 'Branch protocols start from (default: the current branch)' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand init" -l ci -d 'CI provider to integrate with' -r -f -a "github\t'GitHub Actions'
gitlab\t'GitLab CI'
none\t'No CI integration'"
complete -c godzilla -n "__fish_godzilla_using_subcommand init" -l engine -d 'Engine to use for every phase (codex, claude, opencode, gemini, replay, or a profile)' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand init" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand init" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand init" -l force -d 'Rewrite `.godzilla/config.toml` from the template even if it exists'
complete -c godzilla -n "__fish_godzilla_using_subcommand init" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand init" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand init" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand init" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand init" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand init" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand status" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand status" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand status" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand status" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand status" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand status" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand status" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand fsck" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand fsck" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand fsck" -l repair -d 'Mend torn log lines and rebuild stale views, and say what changed'
complete -c godzilla -n "__fish_godzilla_using_subcommand fsck" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand fsck" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand fsck" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand fsck" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand fsck" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand fsck" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand events" -l since -d 'Only events at or after this time: RFC 3339 (`2026-01-02T10:00:00Z`) or a duration back from now (`10m`, `2h`)' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand events" -l type -d 'Only events of this type (repeatable, comma-separated; `qa_*` matches a prefix). The README lists every type' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand events" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand events" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand events" -s f -l follow -d 'Keep printing new events as they are written'
complete -c godzilla -n "__fish_godzilla_using_subcommand events" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand events" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand events" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand events" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand events" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand events" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand log" -l since -d 'Only events at or after this time: RFC 3339 (`2026-01-02T10:00:00Z`) or a duration back from now (`10m`, `2h`)' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand log" -l type -d 'Only events of this type (repeatable, comma-separated; `qa_*` matches a prefix). The README lists every type' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand log" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand log" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand log" -s f -l follow -d 'Keep printing new events as they are written'
complete -c godzilla -n "__fish_godzilla_using_subcommand log" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand log" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand log" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand log" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand log" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand log" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand cost" -l by -d 'How to group the runs' -r -f -a "protocol\t'Per protocol (the default)'
step\t'Per step'
model\t'Per model'
engine\t'Per engine'
phase\t'Per phase (planning, exec, qa...)'"
complete -c godzilla -n "__fish_godzilla_using_subcommand cost" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand cost" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand cost" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand cost" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand cost" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand cost" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand cost" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand cost" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand gc" -l older-than -d 'Only protocols idle (no event) for at least this long, e.g. `7d`, `12h`' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand gc" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand gc" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand gc" -s n -l dry-run -d 'Say what would be removed; remove nothing'
complete -c godzilla -n "__fish_godzilla_using_subcommand gc" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand gc" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand gc" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand gc" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand gc" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand gc" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand report" -l html -d 'Write the HTML page to FILE (`-` for stdout)' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand report" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand report" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand report" -l md -d 'Print the Markdown summary'
complete -c godzilla -n "__fish_godzilla_using_subcommand report" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand report" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand report" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand report" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand report" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand report" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand watch" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand watch" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand watch" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand watch" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand watch" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand watch" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand watch" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand watch" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and not __fish_seen_subcommand_from new plan decompose list show run retry approve pause resume cancel help" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and not __fish_seen_subcommand_from new plan decompose list show run retry approve pause resume cancel help" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and not __fish_seen_subcommand_from new plan decompose list show run retry approve pause resume cancel help" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and not __fish_seen_subcommand_from new plan decompose list show run retry approve pause resume cancel help" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and not __fish_seen_subcommand_from new plan decompose list show run retry approve pause resume cancel help" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and not __fish_seen_subcommand_from new plan decompose list show run retry approve pause resume cancel help" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and not __fish_seen_subcommand_from new plan decompose list show run retry approve pause resume cancel help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and not __fish_seen_subcommand_from new plan decompose list show run retry approve pause resume cancel help" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and not __fish_seen_subcommand_from new plan decompose list show run retry approve pause resume cancel help" -f -a "new" -d 'Create a protocol: a numbered branch `godzilla/NNNN-slug`, its own worktree, a header and an event log, its steps (planned by an engine, or from files), all committed on the new branch. Exit 3 when planning fails (the protocol is then `blocked`)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and not __fish_seen_subcommand_from new plan decompose list show run retry approve pause resume cancel help" -f -a "plan" -d 'Plan a pending protocol, or plan again one whose planning failed'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and not __fish_seen_subcommand_from new plan decompose list show run retry approve pause resume cancel help" -f -a "decompose" -d 'Refine complex pending steps in place with the decompose engine (read-only)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and not __fish_seen_subcommand_from new plan decompose list show run retry approve pause resume cancel help" -f -a "list" -d 'List protocols (the same as `godzilla status`)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and not __fish_seen_subcommand_from new plan decompose list show run retry approve pause resume cancel help" -f -a "show" -d 'Show a protocol: header, steps with their specs, plan, recent events'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and not __fish_seen_subcommand_from new plan decompose list show run retry approve pause resume cancel help" -f -a "run" -d 'Run a protocol: plan if needed, then execute → QA → policies step by step until it is completed (exit 0) or a clear stop: blocked, paused, budget, clarification, approval (exit 3, with the reason). Interrupted, the same command resumes from the events'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and not __fish_seen_subcommand_from new plan decompose list show run retry approve pause resume cancel help" -f -a "retry" -d 'Ask for a new attempt of a failed or blocked step (the last one when none is named)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and not __fish_seen_subcommand_from new plan decompose list show run retry approve pause resume cancel help" -f -a "approve" -d 'Approve a step by hand (one marked as needing a person, or one QA failed or blocked)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and not __fish_seen_subcommand_from new plan decompose list show run retry approve pause resume cancel help" -f -a "pause" -d 'Pause a protocol: no engine run starts until it is resumed'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and not __fish_seen_subcommand_from new plan decompose list show run retry approve pause resume cancel help" -f -a "resume" -d 'Resume a paused protocol'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and not __fish_seen_subcommand_from new plan decompose list show run retry approve pause resume cancel help" -f -a "cancel" -d 'Cancel a protocol and its open steps'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and not __fish_seen_subcommand_from new plan decompose list show run retry approve pause resume cancel help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from new" -s d -l description -d 'What the protocol should achieve' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from new" -l base -d 'Branch to start from (default: project.base_branch)' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from new" -l steps-from -d 'Take the steps from the `NN-slug.md` files in DIR instead of planning' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from new" -l engine -d 'Engine to plan with (overrides [phases.planning])' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from new" -l model -d 'Model to plan with' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from new" -l timeout -d 'Wall-clock limit of the planning run, in seconds' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from new" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from new" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from new" -l no-plan -d 'Create the protocol without planning it (`godzilla protocol plan` later)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from new" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from new" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from new" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from new" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from new" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from new" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from plan" -l engine -d 'Engine to plan with (overrides [phases.planning])' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from plan" -l model -d 'Model to plan with' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from plan" -l timeout -d 'Wall-clock limit of the planning run, in seconds' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from plan" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from plan" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from plan" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from plan" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from plan" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from plan" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from plan" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from plan" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from decompose" -l step -d 'Only this step (`NN-slug`)' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from decompose" -l engine -d 'Engine to use (overrides [phases.decompose])' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from decompose" -l model -d 'Model to use' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from decompose" -l timeout -d 'Wall-clock limit of each engine run, in seconds' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from decompose" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from decompose" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from decompose" -l force -d 'Refine steps even when they are simple'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from decompose" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from decompose" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from decompose" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from decompose" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from decompose" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from decompose" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from list" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from list" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from list" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from list" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from show" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from show" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from show" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from show" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from show" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from run" -l until -d 'Stop once this step is completed' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from run" -l engine -d 'Engine to plan with (overrides [phases.planning])' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from run" -l model -d 'Model to plan with' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from run" -l timeout -d 'Wall-clock limit of the planning run, in seconds' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from run" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from run" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from run" -l yes -d 'Approve steps that need a person (this flag is that person\'s consent)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from run" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from run" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from run" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from run" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from run" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from retry" -l reason -d 'Why, recorded in the event' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from retry" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from retry" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from retry" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from retry" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from retry" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from retry" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from retry" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from retry" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from approve" -l reason -d 'Why, recorded in the event' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from approve" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from approve" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from approve" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from approve" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from approve" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from approve" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from approve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from approve" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from pause" -l reason -d 'Why, recorded in the event' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from pause" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from pause" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from pause" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from pause" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from pause" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from pause" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from pause" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from pause" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from resume" -l reason -d 'Why, recorded in the event' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from resume" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from resume" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from resume" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from resume" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from resume" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from resume" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from resume" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from resume" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from cancel" -l reason -d 'Why, recorded in the event' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from cancel" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from cancel" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from cancel" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from cancel" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from cancel" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from cancel" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from cancel" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from cancel" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from help" -f -a "new" -d 'Create a protocol: a numbered branch `godzilla/NNNN-slug`, its own worktree, a header and an event log, its steps (planned by an engine, or from files), all committed on the new branch. Exit 3 when planning fails (the protocol is then `blocked`)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from help" -f -a "plan" -d 'Plan a pending protocol, or plan again one whose planning failed'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from help" -f -a "decompose" -d 'Refine complex pending steps in place with the decompose engine (read-only)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from help" -f -a "list" -d 'List protocols (the same as `godzilla status`)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show a protocol: header, steps with their specs, plan, recent events'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from help" -f -a "run" -d 'Run a protocol: plan if needed, then execute → QA → policies step by step until it is completed (exit 0) or a clear stop: blocked, paused, budget, clarification, approval (exit 3, with the reason). Interrupted, the same command resumes from the events'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from help" -f -a "retry" -d 'Ask for a new attempt of a failed or blocked step (the last one when none is named)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from help" -f -a "approve" -d 'Approve a step by hand (one marked as needing a person, or one QA failed or blocked)'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from help" -f -a "pause" -d 'Pause a protocol: no engine run starts until it is resumed'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from help" -f -a "resume" -d 'Resume a paused protocol'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from help" -f -a "cancel" -d 'Cancel a protocol and its open steps'
complete -c godzilla -n "__fish_godzilla_using_subcommand protocol; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and not __fish_seen_subcommand_from run show log help" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and not __fish_seen_subcommand_from run show log help" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and not __fish_seen_subcommand_from run show log help" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and not __fish_seen_subcommand_from run show log help" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and not __fish_seen_subcommand_from run show log help" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and not __fish_seen_subcommand_from run show log help" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and not __fish_seen_subcommand_from run show log help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and not __fish_seen_subcommand_from run show log help" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and not __fish_seen_subcommand_from run show log help" -f -a "run" -d 'Run one attempt of a step through an engine, headless, in the protocol\'s worktree'
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and not __fish_seen_subcommand_from run show log help" -f -a "show" -d 'Show a step: status, attempts, usage, cost, commits and its last output'
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and not __fish_seen_subcommand_from run show log help" -f -a "log" -d 'Show a step\'s live transcripts: what the agent said, the tools it called, the commands it ran with their exit codes, and tokens so far, run by run'
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and not __fish_seen_subcommand_from run show log help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and __fish_seen_subcommand_from run" -l engine -d 'Engine to use (overrides the step spec and config)' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and __fish_seen_subcommand_from run" -l model -d 'Model to use' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and __fish_seen_subcommand_from run" -l timeout -d 'Wall-clock limit in seconds' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and __fish_seen_subcommand_from run" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and __fish_seen_subcommand_from run" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and __fish_seen_subcommand_from run" -l dry-run -d 'Show what would run (engine, model, prompt fingerprint, limits) and run nothing'
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and __fish_seen_subcommand_from run" -l print-prompt -d 'Print the rendered prompt on stdout and run nothing'
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and __fish_seen_subcommand_from run" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and __fish_seen_subcommand_from run" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and __fish_seen_subcommand_from run" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and __fish_seen_subcommand_from run" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and __fish_seen_subcommand_from run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and __fish_seen_subcommand_from run" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and __fish_seen_subcommand_from show" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and __fish_seen_subcommand_from show" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and __fish_seen_subcommand_from show" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and __fish_seen_subcommand_from show" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and __fish_seen_subcommand_from show" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and __fish_seen_subcommand_from log" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and __fish_seen_subcommand_from log" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and __fish_seen_subcommand_from log" -s f -l follow -d 'Keep printing new entries as they are written'
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and __fish_seen_subcommand_from log" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and __fish_seen_subcommand_from log" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and __fish_seen_subcommand_from log" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and __fish_seen_subcommand_from log" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and __fish_seen_subcommand_from log" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and __fish_seen_subcommand_from log" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and __fish_seen_subcommand_from help" -f -a "run" -d 'Run one attempt of a step through an engine, headless, in the protocol\'s worktree'
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show a step: status, attempts, usage, cost, commits and its last output'
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and __fish_seen_subcommand_from help" -f -a "log" -d 'Show a step\'s live transcripts: what the agent said, the tools it called, the commands it ran with their exit codes, and tokens so far, run by run'
complete -c godzilla -n "__fish_godzilla_using_subcommand step; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c godzilla -n "__fish_godzilla_using_subcommand allow" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand allow" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand allow" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand allow" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand allow" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand allow" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand allow" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand allow" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand doctor" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand doctor" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand doctor" -l run -d 'Also run each installed engine a phase uses once on a trivial read-only prompt and check that its output parses (spends a few tokens)'
complete -c godzilla -n "__fish_godzilla_using_subcommand doctor" -l all -d 'With --run, try every installed engine, not only those the phases use'
complete -c godzilla -n "__fish_godzilla_using_subcommand doctor" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand doctor" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand doctor" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand doctor" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand doctor" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand doctor" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand import; and not __fish_seen_subcommand_from codemachine speckit help" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand import; and not __fish_seen_subcommand_from codemachine speckit help" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand import; and not __fish_seen_subcommand_from codemachine speckit help" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand import; and not __fish_seen_subcommand_from codemachine speckit help" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand import; and not __fish_seen_subcommand_from codemachine speckit help" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand import; and not __fish_seen_subcommand_from codemachine speckit help" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand import; and not __fish_seen_subcommand_from codemachine speckit help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand import; and not __fish_seen_subcommand_from codemachine speckit help" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand import; and not __fish_seen_subcommand_from codemachine speckit help" -f -a "codemachine" -d 'Import a CodeMachine workspace (`.codemachine/`): main agents become steps with their engine, model and prompt; loop and trigger modules become step policies'
complete -c godzilla -n "__fish_godzilla_using_subcommand import; and not __fish_seen_subcommand_from codemachine speckit help" -f -a "speckit" -d 'Import a Spec Kit feature folder (`specs/NNN-feature/`): one step per phase of `tasks.md`, `plan.md` as the plan'
complete -c godzilla -n "__fish_godzilla_using_subcommand import; and not __fish_seen_subcommand_from codemachine speckit help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c godzilla -n "__fish_godzilla_using_subcommand import; and __fish_seen_subcommand_from codemachine" -l name -d 'Short name of the protocol (default: from the source)' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand import; and __fish_seen_subcommand_from codemachine" -s d -l description -d 'Description (default: from the source)' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand import; and __fish_seen_subcommand_from codemachine" -l base -d 'Branch to start from' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand import; and __fish_seen_subcommand_from codemachine" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand import; and __fish_seen_subcommand_from codemachine" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand import; and __fish_seen_subcommand_from codemachine" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand import; and __fish_seen_subcommand_from codemachine" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand import; and __fish_seen_subcommand_from codemachine" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand import; and __fish_seen_subcommand_from codemachine" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand import; and __fish_seen_subcommand_from codemachine" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand import; and __fish_seen_subcommand_from codemachine" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand import; and __fish_seen_subcommand_from speckit" -l name -d 'Short name of the protocol (default: from the source)' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand import; and __fish_seen_subcommand_from speckit" -s d -l description -d 'Description (default: from the source)' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand import; and __fish_seen_subcommand_from speckit" -l base -d 'Branch to start from' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand import; and __fish_seen_subcommand_from speckit" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand import; and __fish_seen_subcommand_from speckit" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand import; and __fish_seen_subcommand_from speckit" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand import; and __fish_seen_subcommand_from speckit" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand import; and __fish_seen_subcommand_from speckit" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand import; and __fish_seen_subcommand_from speckit" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand import; and __fish_seen_subcommand_from speckit" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand import; and __fish_seen_subcommand_from speckit" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand import; and __fish_seen_subcommand_from help" -f -a "codemachine" -d 'Import a CodeMachine workspace (`.codemachine/`): main agents become steps with their engine, model and prompt; loop and trigger modules become step policies'
complete -c godzilla -n "__fish_godzilla_using_subcommand import; and __fish_seen_subcommand_from help" -f -a "speckit" -d 'Import a Spec Kit feature folder (`specs/NNN-feature/`): one step per phase of `tasks.md`, `plan.md` as the plan'
complete -c godzilla -n "__fish_godzilla_using_subcommand import; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c godzilla -n "__fish_godzilla_using_subcommand qa" -l engine -d 'Engine for the review' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand qa" -l model -d 'Model for the review' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand qa" -l timeout -d 'Wall-clock limit of the review, in seconds' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand qa" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand qa" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand qa" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand qa" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand qa" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand qa" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand qa" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand qa" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and not __fish_seen_subcommand_from list answer ask help" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and not __fish_seen_subcommand_from list answer ask help" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and not __fish_seen_subcommand_from list answer ask help" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and not __fish_seen_subcommand_from list answer ask help" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and not __fish_seen_subcommand_from list answer ask help" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and not __fish_seen_subcommand_from list answer ask help" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and not __fish_seen_subcommand_from list answer ask help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and not __fish_seen_subcommand_from list answer ask help" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and not __fish_seen_subcommand_from list answer ask help" -f -a "list" -d 'List questions of the project (and of a protocol)'
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and not __fish_seen_subcommand_from list answer ask help" -f -a "answer" -d 'Answer a question; a blocked run can go on'
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and not __fish_seen_subcommand_from list answer ask help" -f -a "ask" -d 'Ask a question (project scope unless `--protocol`)'
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and not __fish_seen_subcommand_from list answer ask help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and __fish_seen_subcommand_from list" -l protocol -d 'A protocol (`NNNN-slug`); without it, project questions only' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and __fish_seen_subcommand_from list" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and __fish_seen_subcommand_from list" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and __fish_seen_subcommand_from list" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and __fish_seen_subcommand_from list" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and __fish_seen_subcommand_from answer" -l protocol -d 'A protocol (`NNNN-slug`); without it, project questions only' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and __fish_seen_subcommand_from answer" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and __fish_seen_subcommand_from answer" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and __fish_seen_subcommand_from answer" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and __fish_seen_subcommand_from answer" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and __fish_seen_subcommand_from answer" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and __fish_seen_subcommand_from answer" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and __fish_seen_subcommand_from answer" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and __fish_seen_subcommand_from answer" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and __fish_seen_subcommand_from ask" -l protocol -d 'A protocol (`NNNN-slug`); without it, project questions only' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and __fish_seen_subcommand_from ask" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and __fish_seen_subcommand_from ask" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and __fish_seen_subcommand_from ask" -l blocking -d 'Stop runs until it is answered'
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and __fish_seen_subcommand_from ask" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and __fish_seen_subcommand_from ask" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and __fish_seen_subcommand_from ask" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and __fish_seen_subcommand_from ask" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and __fish_seen_subcommand_from ask" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and __fish_seen_subcommand_from ask" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and __fish_seen_subcommand_from help" -f -a "list" -d 'List questions of the project (and of a protocol)'
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and __fish_seen_subcommand_from help" -f -a "answer" -d 'Answer a question; a blocked run can go on'
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and __fish_seen_subcommand_from help" -f -a "ask" -d 'Ask a question (project scope unless `--protocol`)'
complete -c godzilla -n "__fish_godzilla_using_subcommand clarify; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c godzilla -n "__fish_godzilla_using_subcommand discover" -l engine -d 'Engine to use (overrides [phases.discovery])' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand discover" -l model -d 'Model to use' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand discover" -l timeout -d 'Wall-clock limit of the engine run, in seconds' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand discover" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand discover" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand discover" -l apply -d 'Also set the build, test and lint `[checks]` in .godzilla/config.toml from the report (comments and other settings are kept; commands that need a shell are not applied)'
complete -c godzilla -n "__fish_godzilla_using_subcommand discover" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand discover" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand discover" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand discover" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand discover" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand discover" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand spec; and not __fish_seen_subcommand_from show validate help" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand spec; and not __fish_seen_subcommand_from show validate help" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand spec; and not __fish_seen_subcommand_from show validate help" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand spec; and not __fish_seen_subcommand_from show validate help" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand spec; and not __fish_seen_subcommand_from show validate help" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand spec; and not __fish_seen_subcommand_from show validate help" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand spec; and not __fish_seen_subcommand_from show validate help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand spec; and not __fish_seen_subcommand_from show validate help" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand spec; and not __fish_seen_subcommand_from show validate help" -f -a "show" -d 'Show a protocol\'s stored spec and its hash: one line per step with its type, QA policy, engine and model, and policies'
complete -c godzilla -n "__fish_godzilla_using_subcommand spec; and not __fish_seen_subcommand_from show validate help" -f -a "validate" -d 'Rebuild the spec from the step files (keeping what the stored spec says about each step), validate it (schema and paths) and store it when valid'
complete -c godzilla -n "__fish_godzilla_using_subcommand spec; and not __fish_seen_subcommand_from show validate help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c godzilla -n "__fish_godzilla_using_subcommand spec; and __fish_seen_subcommand_from show" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand spec; and __fish_seen_subcommand_from show" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand spec; and __fish_seen_subcommand_from show" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand spec; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand spec; and __fish_seen_subcommand_from show" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand spec; and __fish_seen_subcommand_from show" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand spec; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand spec; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand spec; and __fish_seen_subcommand_from validate" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand spec; and __fish_seen_subcommand_from validate" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand spec; and __fish_seen_subcommand_from validate" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand spec; and __fish_seen_subcommand_from validate" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand spec; and __fish_seen_subcommand_from validate" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand spec; and __fish_seen_subcommand_from validate" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand spec; and __fish_seen_subcommand_from validate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand spec; and __fish_seen_subcommand_from validate" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand spec; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show a protocol\'s stored spec and its hash: one line per step with its type, QA policy, engine and model, and policies'
complete -c godzilla -n "__fish_godzilla_using_subcommand spec; and __fish_seen_subcommand_from help" -f -a "validate" -d 'Rebuild the spec from the step files (keeping what the stored spec says about each step), validate it (schema and paths) and store it when valid'
complete -c godzilla -n "__fish_godzilla_using_subcommand spec; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c godzilla -n "__fish_godzilla_using_subcommand prompts; and not __fish_seen_subcommand_from list show help" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand prompts; and not __fish_seen_subcommand_from list show help" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand prompts; and not __fish_seen_subcommand_from list show help" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand prompts; and not __fish_seen_subcommand_from list show help" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand prompts; and not __fish_seen_subcommand_from list show help" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand prompts; and not __fish_seen_subcommand_from list show help" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand prompts; and not __fish_seen_subcommand_from list show help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand prompts; and not __fish_seen_subcommand_from list show help" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand prompts; and not __fish_seen_subcommand_from list show help" -f -a "list" -d 'List the roles, where each one\'s template comes from and its fingerprint'
complete -c godzilla -n "__fish_godzilla_using_subcommand prompts; and not __fish_seen_subcommand_from list show help" -f -a "show" -d 'Print the template a role uses'
complete -c godzilla -n "__fish_godzilla_using_subcommand prompts; and not __fish_seen_subcommand_from list show help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c godzilla -n "__fish_godzilla_using_subcommand prompts; and __fish_seen_subcommand_from list" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand prompts; and __fish_seen_subcommand_from list" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand prompts; and __fish_seen_subcommand_from list" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand prompts; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand prompts; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand prompts; and __fish_seen_subcommand_from list" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand prompts; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand prompts; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand prompts; and __fish_seen_subcommand_from show" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand prompts; and __fish_seen_subcommand_from show" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand prompts; and __fish_seen_subcommand_from show" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand prompts; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand prompts; and __fish_seen_subcommand_from show" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand prompts; and __fish_seen_subcommand_from show" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand prompts; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand prompts; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand prompts; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the roles, where each one\'s template comes from and its fingerprint'
complete -c godzilla -n "__fish_godzilla_using_subcommand prompts; and __fish_seen_subcommand_from help" -f -a "show" -d 'Print the template a role uses'
complete -c godzilla -n "__fish_godzilla_using_subcommand prompts; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c godzilla -n "__fish_godzilla_using_subcommand notes; and not __fish_seen_subcommand_from show add help" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand notes; and not __fish_seen_subcommand_from show add help" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand notes; and not __fish_seen_subcommand_from show add help" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand notes; and not __fish_seen_subcommand_from show add help" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand notes; and not __fish_seen_subcommand_from show add help" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand notes; and not __fish_seen_subcommand_from show add help" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand notes; and not __fish_seen_subcommand_from show add help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand notes; and not __fish_seen_subcommand_from show add help" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand notes; and not __fish_seen_subcommand_from show add help" -f -a "show" -d 'Print the records attached to a commit, one JSON object per line'
complete -c godzilla -n "__fish_godzilla_using_subcommand notes; and not __fish_seen_subcommand_from show add help" -f -a "add" -d 'Attach a record (one JSON object) to a commit, safely alongside other writers'
complete -c godzilla -n "__fish_godzilla_using_subcommand notes; and not __fish_seen_subcommand_from show add help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c godzilla -n "__fish_godzilla_using_subcommand notes; and __fish_seen_subcommand_from show" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand notes; and __fish_seen_subcommand_from show" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand notes; and __fish_seen_subcommand_from show" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand notes; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand notes; and __fish_seen_subcommand_from show" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand notes; and __fish_seen_subcommand_from show" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand notes; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand notes; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand notes; and __fish_seen_subcommand_from add" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand notes; and __fish_seen_subcommand_from add" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand notes; and __fish_seen_subcommand_from add" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand notes; and __fish_seen_subcommand_from add" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand notes; and __fish_seen_subcommand_from add" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand notes; and __fish_seen_subcommand_from add" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand notes; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand notes; and __fish_seen_subcommand_from add" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand notes; and __fish_seen_subcommand_from help" -f -a "show" -d 'Print the records attached to a commit, one JSON object per line'
complete -c godzilla -n "__fish_godzilla_using_subcommand notes; and __fish_seen_subcommand_from help" -f -a "add" -d 'Attach a record (one JSON object) to a commit, safely alongside other writers'
complete -c godzilla -n "__fish_godzilla_using_subcommand notes; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c godzilla -n "__fish_godzilla_using_subcommand sync" -l remote -d 'The remote (a configured remote\'s name)' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand sync" -l lease -d 'Publish only while holding this lease (`PROTOCOL` or `PROTOCOL/STEP`)' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand sync" -l attempts -d 'Rounds of fetch, merge and push before giving up on rejected pushes' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand sync" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand sync" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand sync" -l no-push -d 'Fetch and merge only'
complete -c godzilla -n "__fish_godzilla_using_subcommand sync" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand sync" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand sync" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand sync" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand sync" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand sync" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand pr; and not __fish_seen_subcommand_from open status help" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand pr; and not __fish_seen_subcommand_from open status help" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand pr; and not __fish_seen_subcommand_from open status help" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand pr; and not __fish_seen_subcommand_from open status help" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand pr; and not __fish_seen_subcommand_from open status help" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand pr; and not __fish_seen_subcommand_from open status help" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand pr; and not __fish_seen_subcommand_from open status help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand pr; and not __fish_seen_subcommand_from open status help" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand pr; and not __fish_seen_subcommand_from open status help" -f -a "open" -d 'Push the protocol\'s branch and open its PR/MR, or update the one already open'
complete -c godzilla -n "__fish_godzilla_using_subcommand pr; and not __fish_seen_subcommand_from open status help" -f -a "status" -d 'Show the protocol\'s PR/MR: state, review decision and checks'
complete -c godzilla -n "__fish_godzilla_using_subcommand pr; and not __fish_seen_subcommand_from open status help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c godzilla -n "__fish_godzilla_using_subcommand pr; and __fish_seen_subcommand_from open" -l remote -d 'The remote to push the branch to first' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand pr; and __fish_seen_subcommand_from open" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand pr; and __fish_seen_subcommand_from open" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand pr; and __fish_seen_subcommand_from open" -l draft -d 'Open it as a draft'
complete -c godzilla -n "__fish_godzilla_using_subcommand pr; and __fish_seen_subcommand_from open" -l no-push -d 'Do not push the branch first'
complete -c godzilla -n "__fish_godzilla_using_subcommand pr; and __fish_seen_subcommand_from open" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand pr; and __fish_seen_subcommand_from open" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand pr; and __fish_seen_subcommand_from open" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand pr; and __fish_seen_subcommand_from open" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand pr; and __fish_seen_subcommand_from open" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand pr; and __fish_seen_subcommand_from open" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand pr; and __fish_seen_subcommand_from status" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand pr; and __fish_seen_subcommand_from status" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand pr; and __fish_seen_subcommand_from status" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand pr; and __fish_seen_subcommand_from status" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand pr; and __fish_seen_subcommand_from status" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand pr; and __fish_seen_subcommand_from status" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand pr; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand pr; and __fish_seen_subcommand_from status" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand pr; and __fish_seen_subcommand_from help" -f -a "open" -d 'Push the protocol\'s branch and open its PR/MR, or update the one already open'
complete -c godzilla -n "__fish_godzilla_using_subcommand pr; and __fish_seen_subcommand_from help" -f -a "status" -d 'Show the protocol\'s PR/MR: state, review decision and checks'
complete -c godzilla -n "__fish_godzilla_using_subcommand pr; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and not __fish_seen_subcommand_from claim release trigger status generate help" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and not __fish_seen_subcommand_from claim release trigger status generate help" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and not __fish_seen_subcommand_from claim release trigger status generate help" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and not __fish_seen_subcommand_from claim release trigger status generate help" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and not __fish_seen_subcommand_from claim release trigger status generate help" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and not __fish_seen_subcommand_from claim release trigger status generate help" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and not __fish_seen_subcommand_from claim release trigger status generate help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and not __fish_seen_subcommand_from claim release trigger status generate help" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and not __fish_seen_subcommand_from claim release trigger status generate help" -f -a "claim" -d 'Claim a protocol or step for this runner through the remote (exit 3 when someone else holds it)'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and not __fish_seen_subcommand_from claim release trigger status generate help" -f -a "release" -d 'Give a claimed protocol or step back'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and not __fish_seen_subcommand_from claim release trigger status generate help" -f -a "trigger" -d 'Start CI on a protocol\'s branch (`gh workflow run` or `glab ci run`)'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and not __fish_seen_subcommand_from claim release trigger status generate help" -f -a "status" -d 'Show the CI checks of a protocol\'s branch and record the outcome (exit 3 on failure)'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and not __fish_seen_subcommand_from claim release trigger status generate help" -f -a "generate" -d 'Write a workflow that runs a protocol on CI runners (.github/workflows/ or .gitlab-ci.yml): one job per step, leases, sync, and the PR opened at the end'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and not __fish_seen_subcommand_from claim release trigger status generate help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from claim" -l remote -d 'The remote runners share' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from claim" -l ttl -d 'How long the lease lasts, in seconds' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from claim" -l holder -d 'Who claims it (default: the CI job, or host and pid)' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from claim" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from claim" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from claim" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from claim" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from claim" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from claim" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from claim" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from claim" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from release" -l remote -d 'The remote runners share' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from release" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from release" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from release" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from release" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from release" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from release" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from release" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from release" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from trigger" -l workflow -d 'The GitHub workflow file (default: the one `ci generate` writes for the protocol)' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from trigger" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from trigger" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from trigger" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from trigger" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from trigger" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from trigger" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from trigger" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from trigger" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from status" -l interval -d 'Seconds between polls with --watch' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from status" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from status" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from status" -l watch -d 'Poll until no check is pending'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from status" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from status" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from status" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from status" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from status" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from generate" -l install -d 'How runners install godzilla' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from generate" -l ttl -d 'Lease length of each job, in seconds' -r
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from generate" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from generate" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from generate" -l no-pr -d 'Do not open the PR/MR at the end'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from generate" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from generate" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from generate" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from generate" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from generate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from generate" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from help" -f -a "claim" -d 'Claim a protocol or step for this runner through the remote (exit 3 when someone else holds it)'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from help" -f -a "release" -d 'Give a claimed protocol or step back'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from help" -f -a "trigger" -d 'Start CI on a protocol\'s branch (`gh workflow run` or `glab ci run`)'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from help" -f -a "status" -d 'Show the CI checks of a protocol\'s branch and record the outcome (exit 3 on failure)'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from help" -f -a "generate" -d 'Write a workflow that runs a protocol on CI runners (.github/workflows/ or .gitlab-ci.yml): one job per step, leases, sync, and the PR opened at the end'
complete -c godzilla -n "__fish_godzilla_using_subcommand ci; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c godzilla -n "__fish_godzilla_using_subcommand demo" -l dir -d 'Where to put the scratch repository (new or empty; default: a new temp directory)' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand demo" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand demo" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand demo" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand demo" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand demo" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand demo" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand demo" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand demo" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand completions" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand completions" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand completions" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand completions" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand completions" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand completions" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand completions" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand man" -l dir -d 'Write `godzilla.1` and one page per subcommand into DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand man" -s C -l directory -d 'Run as if started in DIR' -r -F
complete -c godzilla -n "__fish_godzilla_using_subcommand man" -l color -d 'When to use colour' -r -f -a "auto\t'Colour when writing to a terminal and `NO_COLOR` is unset'
always\t'Always colour'
never\t'Never colour'"
complete -c godzilla -n "__fish_godzilla_using_subcommand man" -l json -d 'Print machine-readable JSON on stdout (a stable contract)'
complete -c godzilla -n "__fish_godzilla_using_subcommand man" -s q -l quiet -d 'Only print errors and warnings on stderr'
complete -c godzilla -n "__fish_godzilla_using_subcommand man" -s v -l verbose -d 'More logging on stderr (-v debug, -vv trace)'
complete -c godzilla -n "__fish_godzilla_using_subcommand man" -l trust-config -d 'Run the commands the repository\'s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
complete -c godzilla -n "__fish_godzilla_using_subcommand man" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c godzilla -n "__fish_godzilla_using_subcommand man" -s V -l version -d 'Print version'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and not __fish_seen_subcommand_from init status fsck events cost gc report watch protocol step allow doctor import qa clarify discover spec prompts notes sync pr ci demo completions man help" -f -a "init" -d 'Set this repository up for godzilla'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and not __fish_seen_subcommand_from init status fsck events cost gc report watch protocol step allow doctor import qa clarify discover spec prompts notes sync pr ci demo completions man help" -f -a "status" -d 'Show every protocol and its steps'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and not __fish_seen_subcommand_from init status fsck events cost gc report watch protocol step allow doctor import qa clarify discover spec prompts notes sync pr ci demo completions man help" -f -a "fsck" -d 'Check godzilla\'s state files against their event logs'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and not __fish_seen_subcommand_from init status fsck events cost gc report watch protocol step allow doctor import qa clarify discover spec prompts notes sync pr ci demo completions man help" -f -a "events" -d 'Show the event stream, optionally following it live'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and not __fish_seen_subcommand_from init status fsck events cost gc report watch protocol step allow doctor import qa clarify discover spec prompts notes sync pr ci demo completions man help" -f -a "cost" -d 'Add up tokens and cost per protocol, step, model, engine or phase'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and not __fish_seen_subcommand_from init status fsck events cost gc report watch protocol step allow doctor import qa clarify discover spec prompts notes sync pr ci demo completions man help" -f -a "gc" -d 'Remove finished protocols\' worktrees and local logs that are safe to remove'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and not __fish_seen_subcommand_from init status fsck events cost gc report watch protocol step allow doctor import qa clarify discover spec prompts notes sync pr ci demo completions man help" -f -a "report" -d 'Report on a protocol: HTML page (timeline, QA, cost chart) or Markdown summary'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and not __fish_seen_subcommand_from init status fsck events cost gc report watch protocol step allow doctor import qa clarify discover spec prompts notes sync pr ci demo completions man help" -f -a "watch" -d 'Watch protocols, steps, tokens and transcripts live in a terminal view'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and not __fish_seen_subcommand_from init status fsck events cost gc report watch protocol step allow doctor import qa clarify discover spec prompts notes sync pr ci demo completions man help" -f -a "protocol" -d 'Create and manage protocols'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and not __fish_seen_subcommand_from init status fsck events cost gc report watch protocol step allow doctor import qa clarify discover spec prompts notes sync pr ci demo completions man help" -f -a "step" -d 'Run and inspect single steps'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and not __fish_seen_subcommand_from init status fsck events cost gc report watch protocol step allow doctor import qa clarify discover spec prompts notes sync pr ci demo completions man help" -f -a "allow" -d 'Trust the commands this repository\'s config defines ([checks], engine profiles)'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and not __fish_seen_subcommand_from init status fsck events cost gc report watch protocol step allow doctor import qa clarify discover spec prompts notes sync pr ci demo completions man help" -f -a "doctor" -d 'Check git, the configuration and every engine, with hints for what is missing'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and not __fish_seen_subcommand_from init status fsck events cost gc report watch protocol step allow doctor import qa clarify discover spec prompts notes sync pr ci demo completions man help" -f -a "import" -d 'Create a protocol from a CodeMachine workspace or a Spec Kit feature'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and not __fish_seen_subcommand_from init status fsck events cost gc report watch protocol step allow doctor import qa clarify discover spec prompts notes sync pr ci demo completions man help" -f -a "qa" -d 'Run QA on a step\'s last attempt: checks, then an LLM review (policy full)'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and not __fish_seen_subcommand_from init status fsck events cost gc report watch protocol step allow doctor import qa clarify discover spec prompts notes sync pr ci demo completions man help" -f -a "clarify" -d 'Questions that stop runs until a person answers them'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and not __fish_seen_subcommand_from init status fsck events cost gc report watch protocol step allow doctor import qa clarify discover spec prompts notes sync pr ci demo completions man help" -f -a "discover" -d 'Discover the repository\'s stack, commands and CI with an engine (read-only)'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and not __fish_seen_subcommand_from init status fsck events cost gc report watch protocol step allow doctor import qa clarify discover spec prompts notes sync pr ci demo completions man help" -f -a "spec" -d 'Show a protocol\'s spec, or rebuild and validate it from the step files'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and not __fish_seen_subcommand_from init status fsck events cost gc report watch protocol step allow doctor import qa clarify discover spec prompts notes sync pr ci demo completions man help" -f -a "prompts" -d 'Show which prompt template each role uses'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and not __fish_seen_subcommand_from init status fsck events cost gc report watch protocol step allow doctor import qa clarify discover spec prompts notes sync pr ci demo completions man help" -f -a "notes" -d 'Read and write the records godzilla attaches to commits (refs/notes/godzilla)'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and not __fish_seen_subcommand_from init status fsck events cost gc report watch protocol step allow doctor import qa clarify discover spec prompts notes sync pr ci demo completions man help" -f -a "sync" -d 'Push and fetch protocol branches and refs/notes/godzilla with a remote'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and not __fish_seen_subcommand_from init status fsck events cost gc report watch protocol step allow doctor import qa clarify discover spec prompts notes sync pr ci demo completions man help" -f -a "pr" -d 'Open and inspect a protocol\'s pull/merge request (gh or glab)'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and not __fish_seen_subcommand_from init status fsck events cost gc report watch protocol step allow doctor import qa clarify discover spec prompts notes sync pr ci demo completions man help" -f -a "ci" -d 'Run protocols on CI runners: leases, workflow files, triggering and status'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and not __fish_seen_subcommand_from init status fsck events cost gc report watch protocol step allow doctor import qa clarify discover spec prompts notes sync pr ci demo completions man help" -f -a "demo" -d 'Run a whole protocol offline with the built-in replay engine (no API keys needed)'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and not __fish_seen_subcommand_from init status fsck events cost gc report watch protocol step allow doctor import qa clarify discover spec prompts notes sync pr ci demo completions man help" -f -a "completions" -d 'Print a shell completion script'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and not __fish_seen_subcommand_from init status fsck events cost gc report watch protocol step allow doctor import qa clarify discover spec prompts notes sync pr ci demo completions man help" -f -a "man" -d 'Print or write the manual pages'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and not __fish_seen_subcommand_from init status fsck events cost gc report watch protocol step allow doctor import qa clarify discover spec prompts notes sync pr ci demo completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and __fish_seen_subcommand_from protocol" -f -a "new" -d 'Create a protocol: a numbered branch `godzilla/NNNN-slug`, its own worktree, a header and an event log, its steps (planned by an engine, or from files), all committed on the new branch. Exit 3 when planning fails (the protocol is then `blocked`)'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and __fish_seen_subcommand_from protocol" -f -a "plan" -d 'Plan a pending protocol, or plan again one whose planning failed'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and __fish_seen_subcommand_from protocol" -f -a "decompose" -d 'Refine complex pending steps in place with the decompose engine (read-only)'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and __fish_seen_subcommand_from protocol" -f -a "list" -d 'List protocols (the same as `godzilla status`)'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and __fish_seen_subcommand_from protocol" -f -a "show" -d 'Show a protocol: header, steps with their specs, plan, recent events'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and __fish_seen_subcommand_from protocol" -f -a "run" -d 'Run a protocol: plan if needed, then execute → QA → policies step by step until it is completed (exit 0) or a clear stop: blocked, paused, budget, clarification, approval (exit 3, with the reason). Interrupted, the same command resumes from the events'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and __fish_seen_subcommand_from protocol" -f -a "retry" -d 'Ask for a new attempt of a failed or blocked step (the last one when none is named)'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and __fish_seen_subcommand_from protocol" -f -a "approve" -d 'Approve a step by hand (one marked as needing a person, or one QA failed or blocked)'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and __fish_seen_subcommand_from protocol" -f -a "pause" -d 'Pause a protocol: no engine run starts until it is resumed'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and __fish_seen_subcommand_from protocol" -f -a "resume" -d 'Resume a paused protocol'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and __fish_seen_subcommand_from protocol" -f -a "cancel" -d 'Cancel a protocol and its open steps'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and __fish_seen_subcommand_from step" -f -a "run" -d 'Run one attempt of a step through an engine, headless, in the protocol\'s worktree'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and __fish_seen_subcommand_from step" -f -a "show" -d 'Show a step: status, attempts, usage, cost, commits and its last output'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and __fish_seen_subcommand_from step" -f -a "log" -d 'Show a step\'s live transcripts: what the agent said, the tools it called, the commands it ran with their exit codes, and tokens so far, run by run'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and __fish_seen_subcommand_from import" -f -a "codemachine" -d 'Import a CodeMachine workspace (`.codemachine/`): main agents become steps with their engine, model and prompt; loop and trigger modules become step policies'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and __fish_seen_subcommand_from import" -f -a "speckit" -d 'Import a Spec Kit feature folder (`specs/NNN-feature/`): one step per phase of `tasks.md`, `plan.md` as the plan'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and __fish_seen_subcommand_from clarify" -f -a "list" -d 'List questions of the project (and of a protocol)'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and __fish_seen_subcommand_from clarify" -f -a "answer" -d 'Answer a question; a blocked run can go on'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and __fish_seen_subcommand_from clarify" -f -a "ask" -d 'Ask a question (project scope unless `--protocol`)'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and __fish_seen_subcommand_from spec" -f -a "show" -d 'Show a protocol\'s stored spec and its hash: one line per step with its type, QA policy, engine and model, and policies'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and __fish_seen_subcommand_from spec" -f -a "validate" -d 'Rebuild the spec from the step files (keeping what the stored spec says about each step), validate it (schema and paths) and store it when valid'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and __fish_seen_subcommand_from prompts" -f -a "list" -d 'List the roles, where each one\'s template comes from and its fingerprint'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and __fish_seen_subcommand_from prompts" -f -a "show" -d 'Print the template a role uses'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and __fish_seen_subcommand_from notes" -f -a "show" -d 'Print the records attached to a commit, one JSON object per line'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and __fish_seen_subcommand_from notes" -f -a "add" -d 'Attach a record (one JSON object) to a commit, safely alongside other writers'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and __fish_seen_subcommand_from pr" -f -a "open" -d 'Push the protocol\'s branch and open its PR/MR, or update the one already open'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and __fish_seen_subcommand_from pr" -f -a "status" -d 'Show the protocol\'s PR/MR: state, review decision and checks'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and __fish_seen_subcommand_from ci" -f -a "claim" -d 'Claim a protocol or step for this runner through the remote (exit 3 when someone else holds it)'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and __fish_seen_subcommand_from ci" -f -a "release" -d 'Give a claimed protocol or step back'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and __fish_seen_subcommand_from ci" -f -a "trigger" -d 'Start CI on a protocol\'s branch (`gh workflow run` or `glab ci run`)'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and __fish_seen_subcommand_from ci" -f -a "status" -d 'Show the CI checks of a protocol\'s branch and record the outcome (exit 3 on failure)'
complete -c godzilla -n "__fish_godzilla_using_subcommand help; and __fish_seen_subcommand_from ci" -f -a "generate" -d 'Write a workflow that runs a protocol on CI runners (.github/workflows/ or .gitlab-ci.yml): one job per step, leases, sync, and the PR opened at the end'
