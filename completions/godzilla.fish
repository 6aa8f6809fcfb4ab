complete --keep-order --exclusive --command godzilla --arguments "(COMPLETE=fish godzilla -- (commandline --current-process --tokenize --cut-at-cursor) (commandline --current-token))"
