-- Package installs are recorded in history beside executions: `kind` tells them apart ('run' | 'install').
ALTER TABLE executions ADD COLUMN kind TEXT NOT NULL DEFAULT 'run';
