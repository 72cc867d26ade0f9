//! Sorting with one copy of the standard library's sort in the whole wasm.
//!
//! `slice::sort_by` is compiled again for every element type and comparator: its stable sort
//! (driftsort, with its small-sort networks and merges) is several kilobytes of wasm each time,
//! and the product sorts a dozen kinds of lists. None of them is long or sorted where a
//! comparison through `&dyn` costs what matters (a catalog's names and each model's prices by
//! date, a digest's lines, a batch's problems, alert levels), so these functions sort a list of indices with one comparator type and then move the items
//! into that order: the standard sort is compiled once, for `usize` (BENCHMARKS.md, "A smaller
//! worker"). Stable, as `slice::sort_by` is; a property test holds each to the standard one.
//!
//! `collect()` into a `BTreeMap` or `BTreeSet` sorts its input first, with a copy of the standard
//! sort of its own for each item type; `collect_tree` inserts the items one by one instead.

use std::cmp::Ordering;

/// Sorts `items` by `compare`, keeping equal items in their order (as `slice::sort_by`).
pub fn sort_by<T>(items: &mut [T], mut compare: impl FnMut(&T, &T) -> Ordering) {
    if items.len() < 2 {
        return;
    }
    let order = sorted_order(items.len(), &mut |a, b| compare(&items[a], &items[b]));
    permute(items, order);
}

/// Sorts `items` by the key `key` gives, keeping equal keys in their order (as
/// `slice::sort_by_key`).
pub fn sort_by_key<T, K: Ord>(items: &mut [T], mut key: impl FnMut(&T) -> K) {
    sort_by(items, |a, b| key(a).cmp(&key(b)));
}

/// Sorts `items` in their own order (as `slice::sort`).
pub fn sort<T: Ord>(items: &mut [T]) {
    sort_by(items, T::cmp);
}

/// Collects `items` into a B-tree map or set (any `Default + Extend`) by inserting each in turn:
/// for a map, the last value of a key wins, as with `collect()`.
pub fn collect_tree<C: Default + Extend<T>, T>(items: impl IntoIterator<Item = T>) -> C {
    let mut tree = C::default();
    tree.extend(items);
    tree
}

/// The indices `0..len` in the order `compare` (over indices) gives, equal ones as they were.
/// Not generic: the one instantiation of the standard sort.
#[inline(never)]
fn sorted_order(len: usize, compare: &mut dyn FnMut(usize, usize) -> Ordering) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    order.sort_by(|&a, &b| compare(a, b));
    order
}

/// Moves `items` so that position `i` holds what was at `order[i]` (`order` a permutation of
/// the positions), following each cycle of the permutation with swaps.
fn permute<T>(items: &mut [T], mut order: Vec<usize>) {
    for start in 0..items.len() {
        let mut at = start;
        loop {
            let from = order[at];
            // Marks the position placed: a later start skips it.
            order[at] = at;
            if from == start {
                break;
            }
            items.swap(at, from);
            at = from;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn sort_by_orders_as_the_standard_stable_sort_does(
            items in prop::collection::vec((0u8..6, any::<u16>()), 0..200),
        ) {
            // Pairs compared by their first half only (by its remainder, then downwards): equal
            // first halves must keep their order.
            let compare = |a: &(u8, u16), b: &(u8, u16)| (a.0 % 3).cmp(&(b.0 % 3)).then(b.0.cmp(&a.0));
            let mut ours = items.clone();
            sort_by(&mut ours, compare);
            let mut standard = items;
            standard.sort_by(compare);
            prop_assert_eq!(ours, standard);
        }

        #[test]
        fn sort_by_key_and_sort_order_as_the_standard_ones_do(
            items in prop::collection::vec(any::<i32>(), 0..200),
        ) {
            let mut by_key = items.clone();
            sort_by_key(&mut by_key, |v| v.rem_euclid(7));
            let mut standard_by_key = items.clone();
            standard_by_key.sort_by_key(|v| v.rem_euclid(7));
            prop_assert_eq!(by_key, standard_by_key);

            let mut ours = items.clone();
            sort(&mut ours);
            let mut standard = items;
            standard.sort();
            prop_assert_eq!(ours, standard);
        }
    }

    #[test]
    fn collect_tree_keeps_the_last_value_of_a_key_as_collect_does() {
        let pairs = [("b", 1), ("a", 2), ("b", 3), ("c", 4), ("a", 5)];
        let ours: std::collections::BTreeMap<&str, i32> = collect_tree(pairs);
        let standard: std::collections::BTreeMap<&str, i32> = pairs.into_iter().collect();
        assert_eq!(ours, standard);
        assert_eq!(ours.get("b"), Some(&3));
    }

    #[test]
    fn sorting_moves_owned_items_without_losing_or_copying_any() {
        let mut names: Vec<String> = ["delta", "alpha", "charlie", "bravo", "alpha"]
            .map(String::from)
            .to_vec();
        sort(&mut names);
        assert_eq!(names, ["alpha", "alpha", "bravo", "charlie", "delta"]);
    }
}
