//! The committer and author of godzilla's in-process commits and notes.
//!
//! gix resolves them with the time of day in `jiff`'s system time zone, whose first use in a
//! process looks the zone's name up in the time zone database: a walk of `/usr/share/zoneinfo`
//! that was ~3% of a `step run` (#13). When no date is configured and `TZ` is not set, the zone
//! is the one `/etc/localtime` describes, read here directly; names and emails come from the
//! same configuration keys, in the same order, as in gix's `Repository::committer` and
//! `Repository::author`. Anything else is left to gix.

use gix::actor::Signature;
use gix::bstr::BString;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The committer and author of a commit made now; `None` when no identity is configured.
pub(crate) fn committer_and_author(
    repo: &gix::Repository,
) -> Option<Result<(Signature, Signature), Error>> {
    let config = repo.config_snapshot();
    let string =
        |keys: &[&str]| -> Option<BString> { keys.iter().find_map(|key| config.string(*key)) };
    #[allow(
        clippy::disallowed_methods,
        reason = "the time zone of this process's commits, as git and gix read it"
    )]
    let tz_set = std::env::var_os("TZ").is_some();
    let dated = string(&["gitoxide.commit.committerDate"]).is_some()
        || string(&["gitoxide.commit.authorDate"]).is_some();
    let Some(time) = (!tz_set && !dated).then(local_now).flatten() else {
        return gix_signatures(repo);
    };
    let committer = Signature {
        name: string(&[
            "committer.name",
            "user.name",
            "gitoxide.committer.nameFallback",
        ])?,
        email: string(&[
            "committer.email",
            "user.email",
            "gitoxide.user.emailFallback",
            "gitoxide.committer.emailFallback",
        ])?,
        time,
    };
    let author = Signature {
        name: string(&["author.name", "user.name", "gitoxide.author.nameFallback"])?,
        email: string(&[
            "author.email",
            "user.email",
            "gitoxide.user.emailFallback",
            "gitoxide.author.emailFallback",
        ])?,
        time,
    };
    Some(Ok((committer, author)))
}

/// gix's own resolution, time included.
fn gix_signatures(repo: &gix::Repository) -> Option<Result<(Signature, Signature), Error>> {
    let (Some(committer), Some(author)) = (repo.committer(), repo.author()) else {
        return None;
    };
    let owned = |s: Result<gix::actor::SignatureRef<'_>, _>| -> Result<Signature, Error> {
        Ok(s.map_err(Box::new)?.to_owned().map_err(Box::new)?)
    };
    Some(owned(committer).and_then(|c| Ok((c, owned(author)?))))
}

/// Now, with the UTC offset `/etc/localtime` gives it (UTC when there is none, as in `jiff`);
/// `None` when that file cannot be read as a zone, so that gix decides.
fn local_now() -> Option<gix::date::Time> {
    let now = jiff::Timestamp::now();
    let offset = match std::fs::read("/etc/localtime") {
        Ok(bytes) => jiff::tz::TimeZone::tzif("localtime", &bytes)
            .ok()?
            .to_offset(now)
            .seconds(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(_) => return None,
    };
    Some(gix::date::Time {
        seconds: now.as_second(),
        offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_emails_and_offset_are_gixs() {
        let dir = tempfile::tempdir().unwrap();
        gix::init(dir.path()).unwrap();
        let config = dir.path().join(".git").join("config");
        let mut text = std::fs::read_to_string(&config).unwrap();
        text.push_str("[user]\n\tname = U\n\temail = u@example.com\n[author]\n\tname = A\n");
        crate::services::platform::storage::write_atomic(&config, text.as_bytes()).unwrap();
        let repo = gix::open(dir.path()).unwrap();
        let (committer, author) = committer_and_author(&repo).unwrap().unwrap();
        let (gix_committer, gix_author) = gix_signatures(&repo).unwrap().unwrap();
        for (ours, theirs) in [(&committer, &gix_committer), (&author, &gix_author)] {
            assert_eq!((&ours.name, &ours.email), (&theirs.name, &theirs.email));
            assert_eq!(ours.time.offset, theirs.time.offset);
            assert!((ours.time.seconds - theirs.time.seconds).abs() <= 2);
        }
        assert_eq!(author.name, "A");
        assert_eq!(committer.name, "U");
    }
}
