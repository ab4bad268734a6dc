-- Announcements: everyone reads them, authors write them, admins remove them.
create table public.announcements (
  id bigint generated always as identity primary key,
  author_id uuid not null references auth.users (id) on delete cascade,
  body text not null
);
create index announcements_author_id_idx on public.announcements (author_id);

alter table public.announcements enable row level security;

create policy "Anyone reads announcements" on public.announcements for select using (true);
create policy "Authors post announcements" on public.announcements for insert to authenticated
  with check (auth.uid() = author_id);
create policy "Authors edit announcements" on public.announcements for update to authenticated
  using (true) with check ((select auth.uid()) = author_id);
create policy "Admins remove announcements" on public.announcements for delete to authenticated
  using ((select auth.jwt() -> 'user_metadata' ->> 'role') = 'admin');
