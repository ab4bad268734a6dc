-- An activity feed written by triggers; nobody enabled RLS on it.
create table public.activity (
  id bigint generated always as identity primary key,
  team_id bigint references public.teams (id) on delete cascade,
  happened_at timestamptz not null default now(),
  summary text not null
);
create index activity_team_id_idx on public.activity (team_id);

-- A read policy was added later, but RLS is still off, so the policy protects nothing.
create policy "Team members read activity" on public.activity for select to authenticated
  using (team_id in (select m.team_id from public.team_members m where m.user_id = (select auth.uid())));
