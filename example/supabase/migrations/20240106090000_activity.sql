-- An activity feed written by triggers; nobody enabled RLS on it.
create table public.activity (
  id bigint generated always as identity primary key,
  team_id bigint references public.teams (id) on delete cascade,
  happened_at timestamptz not null default now(),
  summary text not null
);
create index activity_team_id_idx on public.activity (team_id);
