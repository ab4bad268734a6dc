-- Comments on tasks.
create table public.comments (
  id bigint generated always as identity primary key,
  task_id uuid not null references public.tasks (id) on delete cascade,
  author_id uuid not null references auth.users (id) on delete cascade,
  body text not null
);
create index comments_task_id_idx on public.comments (task_id);
create index comments_author_id_idx on public.comments (author_id);

alter table public.comments enable row level security;

create policy "Authors manage their comments" on public.comments for all to authenticated
  using (author_id = (select auth.uid()))
  with check (author_id = (select auth.uid()));

create policy "Signed-in users read comments on finished tasks" on public.comments for select to authenticated
  using (exists (select 1 from public.tasks t where t.id = comments.task_id and t.status = 'done'));
