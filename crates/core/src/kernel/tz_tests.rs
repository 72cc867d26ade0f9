//! `kernel::tz` answers as `chrono-tz` (the tables it was written from) for every zone.

use chrono::{DateTime, FixedOffset, LocalResult, NaiveDate, Offset, TimeZone};
use chrono_tz::OffsetName;

use super::Tz;

/// Instants that probe a zone: every transition `chrono-tz` shows a second before, at and
/// after (found where the offset changes between weekly samples), and a sweep of 1970-2060
/// (`data/tz.tsv` holds each zone from 1970 on).
fn instants(theirs: chrono_tz::Tz) -> Vec<i64> {
    let offset = |t: i64| {
        let o = theirs.offset_from_utc_datetime(
            &DateTime::from_timestamp(t, 0)
                .unwrap_or_default()
                .naive_utc(),
        );
        (
            o.fix().local_minus_utc(),
            o.abbreviation().map(str::to_string),
        )
    };
    let (start, end, step) = (0i64, 2_871_763_200i64, 7 * 86_400);
    let mut out = Vec::new();
    let mut t = start;
    while t < end {
        out.push(t);
        if offset(t) != offset(t + step) {
            // Bisect to the first second of the new offset.
            let (mut lo, mut hi) = (t, t + step);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if offset(mid) == offset(t) {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            out.extend([hi - 3601, hi - 1, hi, hi + 1, hi + 3599, hi + 3600]);
        }
        t += step;
    }
    out.retain(|t| *t >= 0);
    out
}

fn local(r: LocalResult<impl Offset + ToString>) -> Vec<(i32, String)> {
    match r {
        LocalResult::None => vec![],
        LocalResult::Single(a) => vec![(a.fix().local_minus_utc(), a.to_string())],
        LocalResult::Ambiguous(a, b) => vec![
            (a.fix().local_minus_utc(), a.to_string()),
            (b.fix().local_minus_utc(), b.to_string()),
        ],
    }
}

#[test]
fn every_zone_of_chrono_tz_has_the_same_offsets_abbreviations_and_local_times() {
    assert_eq!(chrono_tz::TZ_VARIANTS.len(), 597);
    for theirs in chrono_tz::TZ_VARIANTS {
        let ours: Tz = theirs
            .name()
            .parse()
            .unwrap_or_else(|_| panic!("{} is not parsed", theirs.name()));
        assert_eq!(ours.name(), theirs.name());
        for t in instants(theirs) {
            let utc = DateTime::from_timestamp(t, 0)
                .unwrap_or_default()
                .naive_utc();
            let (a, b) = (
                ours.offset_from_utc_datetime(&utc),
                theirs.offset_from_utc_datetime(&utc),
            );
            assert_eq!(
                (a.fix(), a.to_string()),
                (b.fix(), b.to_string()),
                "{} at {t}",
                theirs.name()
            );
            // The same wall-clock reading, as a local time: gaps and repeats alike (from the
            // second day of 1970, so that no reading falls before 1970 in UTC).
            if t < 2 * 86_400 {
                continue;
            }
            assert_eq!(
                local(ours.offset_from_local_datetime(&utc)),
                local(theirs.offset_from_local_datetime(&utc)),
                "{} local {utc}",
                theirs.name()
            );
        }
        let day = NaiveDate::from_ymd_opt(2026, 3, 8).unwrap_or_default();
        assert_eq!(
            local(ours.offset_from_local_date(&day)),
            local(theirs.offset_from_local_date(&day))
        );
    }
}

#[test]
fn before_1970_a_zone_keeps_the_offset_it_had_at_the_start_of_1970() {
    // chrono-tz has New York on local mean time (-4:56:02) before 1883 and on EST (-5:00) on
    // 1970-01-01; the table from 1970 on answers EST for both.
    let ny: Tz = "America/New_York".parse().unwrap();
    let theirs = chrono_tz::America::New_York;
    let at = |y, m, d| {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap()
    };
    let offset = |o: &dyn Fn(&chrono::NaiveDateTime) -> FixedOffset, y, m, d| {
        o(&at(y, m, d)).local_minus_utc()
    };
    let ours = |t: &chrono::NaiveDateTime| ny.offset_from_utc_datetime(t).fix();
    let chrono = |t: &chrono::NaiveDateTime| theirs.offset_from_utc_datetime(t).fix();
    assert_eq!(offset(&chrono, 1880, 1, 1), -17_762);
    assert_eq!(offset(&ours, 1880, 1, 1), -18_000);
    assert_eq!(offset(&ours, 1969, 7, 1), -18_000);
    assert_eq!(offset(&chrono, 1969, 7, 1), -14_400);
    assert_eq!(offset(&ours, 1970, 1, 1), offset(&chrono, 1970, 1, 1));
    assert_eq!(offset(&ours, 1970, 7, 1), -14_400);
}

#[test]
fn a_new_york_summer_evening_is_four_hours_behind_utc_and_named_edt() {
    let ny: Tz = "America/New_York".parse().unwrap();
    let at = ny.with_ymd_and_hms(2026, 7, 1, 20, 0, 0).single().unwrap();
    assert_eq!(at.to_rfc3339(), "2026-07-01T20:00:00-04:00");
    assert_eq!(at.offset().abbreviation(), Some("EDT"));
    assert_eq!(
        at.with_timezone(&chrono::Utc).to_rfc3339(),
        "2026-07-02T00:00:00+00:00"
    );
}

#[test]
fn utc_is_its_own_zone_and_unknown_names_are_refused() {
    assert_eq!("UTC".parse::<Tz>(), Ok(Tz::UTC));
    assert_ne!("Etc/UTC".parse::<Tz>(), Ok(Tz::UTC));
    assert_eq!("Etc/UTC".parse::<Tz>().map(Tz::name), Ok("Etc/UTC"));
    assert!("Mars/Olympus_Mons".parse::<Tz>().is_err());
    assert!("america/new_york".parse::<Tz>().is_err());
    assert_eq!(
        Tz::UTC
            .offset_from_utc_datetime(&chrono::NaiveDateTime::default())
            .fix()
            .local_minus_utc(),
        0
    );
}
