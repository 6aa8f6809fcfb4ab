
use builtin;
use str;

set edit:completion:arg-completer[godzilla] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'godzilla'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'godzilla'= {
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand init 'Set this repository up for godzilla'
            cand status 'Show every protocol and its steps'
            cand fsck 'Check godzilla''s state files against their event logs'
            cand events 'Show the event stream, optionally following it live'
            cand log 'Show the event stream, optionally following it live'
            cand cost 'Add up tokens and cost per protocol, step, model, engine or phase'
            cand gc 'Remove finished protocols'' worktrees and local logs that are safe to remove'
            cand report 'Report on a protocol: HTML page (timeline, QA, cost chart) or Markdown summary'
            cand watch 'Watch protocols, steps, tokens and transcripts live in a terminal view'
            cand protocol 'Create and manage protocols'
            cand step 'Run and inspect single steps'
            cand allow 'Trust the commands this repository''s config defines ([checks], engine profiles)'
            cand doctor 'Check git, the configuration and every engine, with hints for what is missing'
            cand import 'Create a protocol from a CodeMachine workspace or a Spec Kit feature'
            cand qa 'Run QA on a step''s last attempt: checks, then an LLM review (policy full)'
            cand clarify 'Questions that stop runs until a person answers them'
            cand discover 'Discover the repository''s stack, commands and CI with an engine (read-only)'
            cand spec 'Show a protocol''s spec, or rebuild and validate it from the step files'
            cand prompts 'Show which prompt template each role uses'
            cand notes 'Read and write the records godzilla attaches to commits (refs/notes/godzilla)'
            cand sync 'Push and fetch protocol branches and refs/notes/godzilla with a remote'
            cand pr 'Open and inspect a protocol''s pull/merge request (gh or glab)'
            cand ci 'Run protocols on CI runners: leases, workflow files, triggering and status'
            cand demo 'Run a whole protocol offline with the built-in replay engine (no API keys needed)'
            cand completions 'Print a shell completion script'
            cand man 'Print or write the manual pages'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'godzilla;init'= {
            cand --base-branch 'Branch protocols start from (default: the current branch)'
            cand --ci 'CI provider to integrate with'
            cand --engine 'Engine to use for every phase (codex, claude, opencode, gemini, replay, or a profile)'
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --force 'Rewrite `.godzilla/config.toml` from the template even if it exists'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;status'= {
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;fsck'= {
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --repair 'Mend torn log lines and rebuild stale views, and say what changed'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;events'= {
            cand --since 'Only events at or after this time: RFC 3339 (`2026-01-02T10:00:00Z`) or a duration back from now (`10m`, `2h`)'
            cand --type 'Only events of this type (repeatable, comma-separated; `qa_*` matches a prefix). The README lists every type'
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand -f 'Keep printing new events as they are written'
            cand --follow 'Keep printing new events as they are written'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;log'= {
            cand --since 'Only events at or after this time: RFC 3339 (`2026-01-02T10:00:00Z`) or a duration back from now (`10m`, `2h`)'
            cand --type 'Only events of this type (repeatable, comma-separated; `qa_*` matches a prefix). The README lists every type'
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand -f 'Keep printing new events as they are written'
            cand --follow 'Keep printing new events as they are written'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;cost'= {
            cand --by 'How to group the runs'
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;gc'= {
            cand --older-than 'Only protocols idle (no event) for at least this long, e.g. `7d`, `12h`'
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand -n 'Say what would be removed; remove nothing'
            cand --dry-run 'Say what would be removed; remove nothing'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;report'= {
            cand --html 'Write the HTML page to FILE (`-` for stdout)'
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --md 'Print the Markdown summary'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;watch'= {
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;protocol'= {
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand new 'Create a protocol: a numbered branch `godzilla/NNNN-slug`, its own worktree, a header and an event log, its steps (planned by an engine, or from files), all committed on the new branch. Exit 3 when planning fails (the protocol is then `blocked`)'
            cand plan 'Plan a pending protocol, or plan again one whose planning failed'
            cand decompose 'Refine complex pending steps in place with the decompose engine (read-only)'
            cand list 'List protocols (the same as `godzilla status`)'
            cand show 'Show a protocol: header, steps with their specs, plan, recent events'
            cand run 'Run a protocol: plan if needed, then execute → QA → policies step by step until it is completed (exit 0) or a clear stop: blocked, paused, budget, clarification, approval (exit 3, with the reason). Interrupted, the same command resumes from the events'
            cand retry 'Ask for a new attempt of a failed or blocked step (the last one when none is named)'
            cand approve 'Approve a step by hand (one marked as needing a person, or one QA failed or blocked)'
            cand pause 'Pause a protocol: no engine run starts until it is resumed'
            cand resume 'Resume a paused protocol'
            cand cancel 'Cancel a protocol and its open steps'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'godzilla;protocol;new'= {
            cand -d 'What the protocol should achieve'
            cand --description 'What the protocol should achieve'
            cand --base 'Branch to start from (default: project.base_branch)'
            cand --steps-from 'Take the steps from the `NN-slug.md` files in DIR instead of planning'
            cand --engine 'Engine to plan with (overrides [phases.planning])'
            cand --model 'Model to plan with'
            cand --timeout 'Wall-clock limit of the planning run, in seconds'
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --no-plan 'Create the protocol without planning it (`godzilla protocol plan` later)'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;protocol;plan'= {
            cand --engine 'Engine to plan with (overrides [phases.planning])'
            cand --model 'Model to plan with'
            cand --timeout 'Wall-clock limit of the planning run, in seconds'
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;protocol;decompose'= {
            cand --step 'Only this step (`NN-slug`)'
            cand --engine 'Engine to use (overrides [phases.decompose])'
            cand --model 'Model to use'
            cand --timeout 'Wall-clock limit of each engine run, in seconds'
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --force 'Refine steps even when they are simple'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;protocol;list'= {
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;protocol;show'= {
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;protocol;run'= {
            cand --until 'Stop once this step is completed'
            cand --engine 'Engine to plan with (overrides [phases.planning])'
            cand --model 'Model to plan with'
            cand --timeout 'Wall-clock limit of the planning run, in seconds'
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --yes 'Approve steps that need a person (this flag is that person''s consent)'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;protocol;retry'= {
            cand --reason 'Why, recorded in the event'
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;protocol;approve'= {
            cand --reason 'Why, recorded in the event'
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;protocol;pause'= {
            cand --reason 'Why, recorded in the event'
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;protocol;resume'= {
            cand --reason 'Why, recorded in the event'
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;protocol;cancel'= {
            cand --reason 'Why, recorded in the event'
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;protocol;help'= {
            cand new 'Create a protocol: a numbered branch `godzilla/NNNN-slug`, its own worktree, a header and an event log, its steps (planned by an engine, or from files), all committed on the new branch. Exit 3 when planning fails (the protocol is then `blocked`)'
            cand plan 'Plan a pending protocol, or plan again one whose planning failed'
            cand decompose 'Refine complex pending steps in place with the decompose engine (read-only)'
            cand list 'List protocols (the same as `godzilla status`)'
            cand show 'Show a protocol: header, steps with their specs, plan, recent events'
            cand run 'Run a protocol: plan if needed, then execute → QA → policies step by step until it is completed (exit 0) or a clear stop: blocked, paused, budget, clarification, approval (exit 3, with the reason). Interrupted, the same command resumes from the events'
            cand retry 'Ask for a new attempt of a failed or blocked step (the last one when none is named)'
            cand approve 'Approve a step by hand (one marked as needing a person, or one QA failed or blocked)'
            cand pause 'Pause a protocol: no engine run starts until it is resumed'
            cand resume 'Resume a paused protocol'
            cand cancel 'Cancel a protocol and its open steps'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'godzilla;protocol;help;new'= {
        }
        &'godzilla;protocol;help;plan'= {
        }
        &'godzilla;protocol;help;decompose'= {
        }
        &'godzilla;protocol;help;list'= {
        }
        &'godzilla;protocol;help;show'= {
        }
        &'godzilla;protocol;help;run'= {
        }
        &'godzilla;protocol;help;retry'= {
        }
        &'godzilla;protocol;help;approve'= {
        }
        &'godzilla;protocol;help;pause'= {
        }
        &'godzilla;protocol;help;resume'= {
        }
        &'godzilla;protocol;help;cancel'= {
        }
        &'godzilla;protocol;help;help'= {
        }
        &'godzilla;step'= {
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand run 'Run one attempt of a step through an engine, headless, in the protocol''s worktree'
            cand show 'Show a step: status, attempts, usage, cost, commits and its last output'
            cand log 'Show a step''s live transcripts: what the agent said, the tools it called, the commands it ran with their exit codes, and tokens so far, run by run'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'godzilla;step;run'= {
            cand --engine 'Engine to use (overrides the step spec and config)'
            cand --model 'Model to use'
            cand --timeout 'Wall-clock limit in seconds'
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --dry-run 'Show what would run (engine, model, prompt fingerprint, limits) and run nothing'
            cand --print-prompt 'Print the rendered prompt on stdout and run nothing'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;step;show'= {
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;step;log'= {
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand -f 'Keep printing new entries as they are written'
            cand --follow 'Keep printing new entries as they are written'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;step;help'= {
            cand run 'Run one attempt of a step through an engine, headless, in the protocol''s worktree'
            cand show 'Show a step: status, attempts, usage, cost, commits and its last output'
            cand log 'Show a step''s live transcripts: what the agent said, the tools it called, the commands it ran with their exit codes, and tokens so far, run by run'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'godzilla;step;help;run'= {
        }
        &'godzilla;step;help;show'= {
        }
        &'godzilla;step;help;log'= {
        }
        &'godzilla;step;help;help'= {
        }
        &'godzilla;allow'= {
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;doctor'= {
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --run 'Also run each installed engine a phase uses once on a trivial read-only prompt and check that its output parses (spends a few tokens)'
            cand --all 'With --run, try every installed engine, not only those the phases use'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;import'= {
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand codemachine 'Import a CodeMachine workspace (`.codemachine/`): main agents become steps with their engine, model and prompt; loop and trigger modules become step policies'
            cand speckit 'Import a Spec Kit feature folder (`specs/NNN-feature/`): one step per phase of `tasks.md`, `plan.md` as the plan'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'godzilla;import;codemachine'= {
            cand --name 'Short name of the protocol (default: from the source)'
            cand -d 'Description (default: from the source)'
            cand --description 'Description (default: from the source)'
            cand --base 'Branch to start from'
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;import;speckit'= {
            cand --name 'Short name of the protocol (default: from the source)'
            cand -d 'Description (default: from the source)'
            cand --description 'Description (default: from the source)'
            cand --base 'Branch to start from'
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;import;help'= {
            cand codemachine 'Import a CodeMachine workspace (`.codemachine/`): main agents become steps with their engine, model and prompt; loop and trigger modules become step policies'
            cand speckit 'Import a Spec Kit feature folder (`specs/NNN-feature/`): one step per phase of `tasks.md`, `plan.md` as the plan'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'godzilla;import;help;codemachine'= {
        }
        &'godzilla;import;help;speckit'= {
        }
        &'godzilla;import;help;help'= {
        }
        &'godzilla;qa'= {
            cand --engine 'Engine for the review'
            cand --model 'Model for the review'
            cand --timeout 'Wall-clock limit of the review, in seconds'
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;clarify'= {
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List questions of the project (and of a protocol)'
            cand answer 'Answer a question; a blocked run can go on'
            cand ask 'Ask a question (project scope unless `--protocol`)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'godzilla;clarify;list'= {
            cand --protocol 'A protocol (`NNNN-slug`); without it, project questions only'
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;clarify;answer'= {
            cand --protocol 'A protocol (`NNNN-slug`); without it, project questions only'
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;clarify;ask'= {
            cand --protocol 'A protocol (`NNNN-slug`); without it, project questions only'
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --blocking 'Stop runs until it is answered'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;clarify;help'= {
            cand list 'List questions of the project (and of a protocol)'
            cand answer 'Answer a question; a blocked run can go on'
            cand ask 'Ask a question (project scope unless `--protocol`)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'godzilla;clarify;help;list'= {
        }
        &'godzilla;clarify;help;answer'= {
        }
        &'godzilla;clarify;help;ask'= {
        }
        &'godzilla;clarify;help;help'= {
        }
        &'godzilla;discover'= {
            cand --engine 'Engine to use (overrides [phases.discovery])'
            cand --model 'Model to use'
            cand --timeout 'Wall-clock limit of the engine run, in seconds'
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --apply 'Also set the build, test and lint `[checks]` in .godzilla/config.toml from the report (comments and other settings are kept; commands that need a shell are not applied)'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;spec'= {
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand show 'Show a protocol''s stored spec and its hash: one line per step with its type, QA policy, engine and model, and policies'
            cand validate 'Rebuild the spec from the step files (keeping what the stored spec says about each step), validate it (schema and paths) and store it when valid'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'godzilla;spec;show'= {
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;spec;validate'= {
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;spec;help'= {
            cand show 'Show a protocol''s stored spec and its hash: one line per step with its type, QA policy, engine and model, and policies'
            cand validate 'Rebuild the spec from the step files (keeping what the stored spec says about each step), validate it (schema and paths) and store it when valid'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'godzilla;spec;help;show'= {
        }
        &'godzilla;spec;help;validate'= {
        }
        &'godzilla;spec;help;help'= {
        }
        &'godzilla;prompts'= {
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand list 'List the roles, where each one''s template comes from and its fingerprint'
            cand show 'Print the template a role uses'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'godzilla;prompts;list'= {
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;prompts;show'= {
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;prompts;help'= {
            cand list 'List the roles, where each one''s template comes from and its fingerprint'
            cand show 'Print the template a role uses'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'godzilla;prompts;help;list'= {
        }
        &'godzilla;prompts;help;show'= {
        }
        &'godzilla;prompts;help;help'= {
        }
        &'godzilla;notes'= {
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand show 'Print the records attached to a commit, one JSON object per line'
            cand add 'Attach a record (one JSON object) to a commit, safely alongside other writers'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'godzilla;notes;show'= {
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;notes;add'= {
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;notes;help'= {
            cand show 'Print the records attached to a commit, one JSON object per line'
            cand add 'Attach a record (one JSON object) to a commit, safely alongside other writers'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'godzilla;notes;help;show'= {
        }
        &'godzilla;notes;help;add'= {
        }
        &'godzilla;notes;help;help'= {
        }
        &'godzilla;sync'= {
            cand --remote 'The remote (a configured remote''s name)'
            cand --lease 'Publish only while holding this lease (`PROTOCOL` or `PROTOCOL/STEP`)'
            cand --attempts 'Rounds of fetch, merge and push before giving up on rejected pushes'
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --no-push 'Fetch and merge only'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;pr'= {
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand open 'Push the protocol''s branch and open its PR/MR, or update the one already open'
            cand status 'Show the protocol''s PR/MR: state, review decision and checks'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'godzilla;pr;open'= {
            cand --remote 'The remote to push the branch to first'
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --draft 'Open it as a draft'
            cand --no-push 'Do not push the branch first'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;pr;status'= {
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;pr;help'= {
            cand open 'Push the protocol''s branch and open its PR/MR, or update the one already open'
            cand status 'Show the protocol''s PR/MR: state, review decision and checks'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'godzilla;pr;help;open'= {
        }
        &'godzilla;pr;help;status'= {
        }
        &'godzilla;pr;help;help'= {
        }
        &'godzilla;ci'= {
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand claim 'Claim a protocol or step for this runner through the remote (exit 3 when someone else holds it)'
            cand release 'Give a claimed protocol or step back'
            cand trigger 'Start CI on a protocol''s branch (`gh workflow run` or `glab ci run`)'
            cand status 'Show the CI checks of a protocol''s branch and record the outcome (exit 3 on failure)'
            cand generate 'Write a workflow that runs a protocol on CI runners (.github/workflows/ or .gitlab-ci.yml): one job per step, leases, sync, and the PR opened at the end'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'godzilla;ci;claim'= {
            cand --remote 'The remote runners share'
            cand --ttl 'How long the lease lasts, in seconds'
            cand --holder 'Who claims it (default: the CI job, or host and pid)'
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;ci;release'= {
            cand --remote 'The remote runners share'
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;ci;trigger'= {
            cand --workflow 'The GitHub workflow file (default: the one `ci generate` writes for the protocol)'
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;ci;status'= {
            cand --interval 'Seconds between polls with --watch'
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --watch 'Poll until no check is pending'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;ci;generate'= {
            cand --install 'How runners install godzilla'
            cand --ttl 'Lease length of each job, in seconds'
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --no-pr 'Do not open the PR/MR at the end'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;ci;help'= {
            cand claim 'Claim a protocol or step for this runner through the remote (exit 3 when someone else holds it)'
            cand release 'Give a claimed protocol or step back'
            cand trigger 'Start CI on a protocol''s branch (`gh workflow run` or `glab ci run`)'
            cand status 'Show the CI checks of a protocol''s branch and record the outcome (exit 3 on failure)'
            cand generate 'Write a workflow that runs a protocol on CI runners (.github/workflows/ or .gitlab-ci.yml): one job per step, leases, sync, and the PR opened at the end'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'godzilla;ci;help;claim'= {
        }
        &'godzilla;ci;help;release'= {
        }
        &'godzilla;ci;help;trigger'= {
        }
        &'godzilla;ci;help;status'= {
        }
        &'godzilla;ci;help;generate'= {
        }
        &'godzilla;ci;help;help'= {
        }
        &'godzilla;demo'= {
            cand --dir 'Where to put the scratch repository (new or empty; default: a new temp directory)'
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;completions'= {
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;man'= {
            cand --dir 'Write `godzilla.1` and one page per subcommand into DIR'
            cand -C 'Run as if started in DIR'
            cand --directory 'Run as if started in DIR'
            cand --color 'When to use colour'
            cand --json 'Print machine-readable JSON on stdout (a stable contract)'
            cand -q 'Only print errors and warnings on stderr'
            cand --quiet 'Only print errors and warnings on stderr'
            cand -v 'More logging on stderr (-v debug, -vv trace)'
            cand --verbose 'More logging on stderr (-v debug, -vv trace)'
            cand --trust-config 'Run the commands the repository''s config defines ([checks], engine profiles) without `godzilla allow` (for CI, where the repository is what is being tested)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'godzilla;help'= {
            cand init 'Set this repository up for godzilla'
            cand status 'Show every protocol and its steps'
            cand fsck 'Check godzilla''s state files against their event logs'
            cand events 'Show the event stream, optionally following it live'
            cand cost 'Add up tokens and cost per protocol, step, model, engine or phase'
            cand gc 'Remove finished protocols'' worktrees and local logs that are safe to remove'
            cand report 'Report on a protocol: HTML page (timeline, QA, cost chart) or Markdown summary'
            cand watch 'Watch protocols, steps, tokens and transcripts live in a terminal view'
            cand protocol 'Create and manage protocols'
            cand step 'Run and inspect single steps'
            cand allow 'Trust the commands this repository''s config defines ([checks], engine profiles)'
            cand doctor 'Check git, the configuration and every engine, with hints for what is missing'
            cand import 'Create a protocol from a CodeMachine workspace or a Spec Kit feature'
            cand qa 'Run QA on a step''s last attempt: checks, then an LLM review (policy full)'
            cand clarify 'Questions that stop runs until a person answers them'
            cand discover 'Discover the repository''s stack, commands and CI with an engine (read-only)'
            cand spec 'Show a protocol''s spec, or rebuild and validate it from the step files'
            cand prompts 'Show which prompt template each role uses'
            cand notes 'Read and write the records godzilla attaches to commits (refs/notes/godzilla)'
            cand sync 'Push and fetch protocol branches and refs/notes/godzilla with a remote'
            cand pr 'Open and inspect a protocol''s pull/merge request (gh or glab)'
            cand ci 'Run protocols on CI runners: leases, workflow files, triggering and status'
            cand demo 'Run a whole protocol offline with the built-in replay engine (no API keys needed)'
            cand completions 'Print a shell completion script'
            cand man 'Print or write the manual pages'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'godzilla;help;init'= {
        }
        &'godzilla;help;status'= {
        }
        &'godzilla;help;fsck'= {
        }
        &'godzilla;help;events'= {
        }
        &'godzilla;help;cost'= {
        }
        &'godzilla;help;gc'= {
        }
        &'godzilla;help;report'= {
        }
        &'godzilla;help;watch'= {
        }
        &'godzilla;help;protocol'= {
            cand new 'Create a protocol: a numbered branch `godzilla/NNNN-slug`, its own worktree, a header and an event log, its steps (planned by an engine, or from files), all committed on the new branch. Exit 3 when planning fails (the protocol is then `blocked`)'
            cand plan 'Plan a pending protocol, or plan again one whose planning failed'
            cand decompose 'Refine complex pending steps in place with the decompose engine (read-only)'
            cand list 'List protocols (the same as `godzilla status`)'
            cand show 'Show a protocol: header, steps with their specs, plan, recent events'
            cand run 'Run a protocol: plan if needed, then execute → QA → policies step by step until it is completed (exit 0) or a clear stop: blocked, paused, budget, clarification, approval (exit 3, with the reason). Interrupted, the same command resumes from the events'
            cand retry 'Ask for a new attempt of a failed or blocked step (the last one when none is named)'
            cand approve 'Approve a step by hand (one marked as needing a person, or one QA failed or blocked)'
            cand pause 'Pause a protocol: no engine run starts until it is resumed'
            cand resume 'Resume a paused protocol'
            cand cancel 'Cancel a protocol and its open steps'
        }
        &'godzilla;help;protocol;new'= {
        }
        &'godzilla;help;protocol;plan'= {
        }
        &'godzilla;help;protocol;decompose'= {
        }
        &'godzilla;help;protocol;list'= {
        }
        &'godzilla;help;protocol;show'= {
        }
        &'godzilla;help;protocol;run'= {
        }
        &'godzilla;help;protocol;retry'= {
        }
        &'godzilla;help;protocol;approve'= {
        }
        &'godzilla;help;protocol;pause'= {
        }
        &'godzilla;help;protocol;resume'= {
        }
        &'godzilla;help;protocol;cancel'= {
        }
        &'godzilla;help;step'= {
            cand run 'Run one attempt of a step through an engine, headless, in the protocol''s worktree'
            cand show 'Show a step: status, attempts, usage, cost, commits and its last output'
            cand log 'Show a step''s live transcripts: what the agent said, the tools it called, the commands it ran with their exit codes, and tokens so far, run by run'
        }
        &'godzilla;help;step;run'= {
        }
        &'godzilla;help;step;show'= {
        }
        &'godzilla;help;step;log'= {
        }
        &'godzilla;help;allow'= {
        }
        &'godzilla;help;doctor'= {
        }
        &'godzilla;help;import'= {
            cand codemachine 'Import a CodeMachine workspace (`.codemachine/`): main agents become steps with their engine, model and prompt; loop and trigger modules become step policies'
            cand speckit 'Import a Spec Kit feature folder (`specs/NNN-feature/`): one step per phase of `tasks.md`, `plan.md` as the plan'
        }
        &'godzilla;help;import;codemachine'= {
        }
        &'godzilla;help;import;speckit'= {
        }
        &'godzilla;help;qa'= {
        }
        &'godzilla;help;clarify'= {
            cand list 'List questions of the project (and of a protocol)'
            cand answer 'Answer a question; a blocked run can go on'
            cand ask 'Ask a question (project scope unless `--protocol`)'
        }
        &'godzilla;help;clarify;list'= {
        }
        &'godzilla;help;clarify;answer'= {
        }
        &'godzilla;help;clarify;ask'= {
        }
        &'godzilla;help;discover'= {
        }
        &'godzilla;help;spec'= {
            cand show 'Show a protocol''s stored spec and its hash: one line per step with its type, QA policy, engine and model, and policies'
            cand validate 'Rebuild the spec from the step files (keeping what the stored spec says about each step), validate it (schema and paths) and store it when valid'
        }
        &'godzilla;help;spec;show'= {
        }
        &'godzilla;help;spec;validate'= {
        }
        &'godzilla;help;prompts'= {
            cand list 'List the roles, where each one''s template comes from and its fingerprint'
            cand show 'Print the template a role uses'
        }
        &'godzilla;help;prompts;list'= {
        }
        &'godzilla;help;prompts;show'= {
        }
        &'godzilla;help;notes'= {
            cand show 'Print the records attached to a commit, one JSON object per line'
            cand add 'Attach a record (one JSON object) to a commit, safely alongside other writers'
        }
        &'godzilla;help;notes;show'= {
        }
        &'godzilla;help;notes;add'= {
        }
        &'godzilla;help;sync'= {
        }
        &'godzilla;help;pr'= {
            cand open 'Push the protocol''s branch and open its PR/MR, or update the one already open'
            cand status 'Show the protocol''s PR/MR: state, review decision and checks'
        }
        &'godzilla;help;pr;open'= {
        }
        &'godzilla;help;pr;status'= {
        }
        &'godzilla;help;ci'= {
            cand claim 'Claim a protocol or step for this runner through the remote (exit 3 when someone else holds it)'
            cand release 'Give a claimed protocol or step back'
            cand trigger 'Start CI on a protocol''s branch (`gh workflow run` or `glab ci run`)'
            cand status 'Show the CI checks of a protocol''s branch and record the outcome (exit 3 on failure)'
            cand generate 'Write a workflow that runs a protocol on CI runners (.github/workflows/ or .gitlab-ci.yml): one job per step, leases, sync, and the PR opened at the end'
        }
        &'godzilla;help;ci;claim'= {
        }
        &'godzilla;help;ci;release'= {
        }
        &'godzilla;help;ci;trigger'= {
        }
        &'godzilla;help;ci;status'= {
        }
        &'godzilla;help;ci;generate'= {
        }
        &'godzilla;help;demo'= {
        }
        &'godzilla;help;completions'= {
        }
        &'godzilla;help;man'= {
        }
        &'godzilla;help;help'= {
        }
    ]
    $completions[$command]
}
