-- Profiles: one row per user, readable by signed-in users, editable by their owner.
create table public.profiles (
  id uuid primary key references auth.users (id) on delete cascade,
  username text unique,
  avatar_url text,
  updated_at timestamptz default now()
);

alter table public.profiles enable row level security;

create policy "Profiles are visible to signed-in users" on public.profiles
  for select to authenticated using (true);
create policy "Users insert their own profile" on public.profiles
  for insert to authenticated with check ((select auth.uid()) = id);
create policy "Users update their own profile" on public.profiles
  for update to authenticated using ((select auth.uid()) = id) with check ((select auth.uid()) = id);
create policy "Users delete their own profile" on public.profiles
  for delete to authenticated using ((select auth.uid()) = id);
