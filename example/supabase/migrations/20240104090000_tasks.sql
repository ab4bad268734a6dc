-- Tasks inside projects, assigned to a user.
create table public.tasks (
  id uuid primary key default gen_random_uuid(),
  project_id bigint not null references public.projects (id) on delete cascade,
  assignee_id uuid references auth.users (id) on delete set null,
  title text not null,
  status text not null default 'todo' check (status in ('todo', 'in_progress', 'done')),
  created_at timestamptz not null default now()
);
create index tasks_assignee_id_idx on public.tasks (assignee_id);

alter table public.tasks enable row level security;

create policy "Assignees see their tasks" on public.tasks
  for select to authenticated using ((select auth.uid()) = assignee_id);
