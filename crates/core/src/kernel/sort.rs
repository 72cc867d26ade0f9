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
//! sort of its own for each item type; so do `LiteMap`'s `collect()`, `extend` and serde reader.
//! `collect_map`, `collect_set`, `distinct`, `fold_by_key` and `deserialize_map` sort with this
//! module's one sort instead.
//!
//! The product's maps and sets are `LiteMap`s (one vector of pairs sorted by key) rather than
//! B-trees: a B-tree's search, insertion with node splits, iterators and drop compile to about
//! four kilobytes of wasm for every key and value type, a sorted vector's to a few hundred
//! (BENCHMARKS.md, "A smaller worker"). Inserting into the middle of a sorted vector moves what
//! follows, so a map that may grow large from unsorted input is built with `collect_map` (sort
//! once, then keep the last value of each key) rather than by inserting item by item; `LiteMap`
//! appends without moving anything when keys come in order. `Set` is a `LiteMap` with no values.

use std::cmp::Ordering;

use litemap::LiteMap;

/// A set kept as one sorted vector: a `LiteMap` whose values are `()`.
pub type Set<K> = LiteMap<K, ()>;

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

/// Collects `items` into a `LiteMap` sorted by key with this module's one sort; for a key given
/// more than once the last value wins, as with `collect()` into a `BTreeMap`. Linear in the items
/// when they come in key order, `n log n` otherwise, never quadratic.
pub fn collect_map<K: Ord, V>(items: impl IntoIterator<Item = (K, V)>) -> LiteMap<K, V> {
    let mut pairs: Vec<(K, V)> = items.into_iter().collect();
    if pairs.windows(2).any(|w| w[0].0 >= w[1].0) {
        sort_by(&mut pairs, |a, b| a.0.cmp(&b.0));
        pairs = last_of_each_key(pairs);
    }
    LiteMap::from_sorted_store_unchecked(pairs)
}

/// The items sorted, each once (the first of equal ones): what iterating a `BTreeSet` collected
/// from them gives.
pub fn distinct<T: Ord>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut items: Vec<T> = items.into_iter().collect();
    sort(&mut items);
    items.dedup();
    items
}

/// Collects `items` into a `Set` (sorted, each item once).
pub fn collect_set<K: Ord>(items: impl IntoIterator<Item = K>) -> Set<K> {
    collect_map(items.into_iter().map(|k| (k, ())))
}

/// Folds `pairs` into one value per key, in key order: what `entry(key).or_default()` and `fold`
/// for each pair in turn give in a map, pairs of one key folded in their order. Sorts once
/// instead of inserting into the middle of a vector, for groupings that may be large (a report's
/// rows).
pub fn fold_by_key<K: Ord, T, A: Default>(
    mut pairs: Vec<(K, T)>,
    mut fold: impl FnMut(&mut A, T),
) -> Vec<(K, A)> {
    sort_by(&mut pairs, |a, b| a.0.cmp(&b.0));
    let mut out: Vec<(K, A)> = Vec::new();
    for (key, item) in pairs {
        match out.last_mut() {
            Some(last) if last.0 == key => fold(&mut last.1, item),
            _ => {
                let mut value = A::default();
                fold(&mut value, item);
                out.push((key, value));
            }
        }
    }
    out
}

/// Reads a JSON object into a `LiteMap` (`#[serde(deserialize_with = ...)]`) through
/// `collect_map`: the last value of a repeated key wins and the error for a value that is not an
/// object reads as a `BTreeMap`'s does ("expected a map"). `LiteMap`'s own reader would compile a
/// standard sort for each key and value type.
pub fn deserialize_map<'de, D, K, V>(deserializer: D) -> Result<LiteMap<K, V>, D::Error>
where
    D: serde::Deserializer<'de>,
    K: serde::Deserialize<'de> + Ord,
    V: serde::Deserialize<'de>,
{
    struct Pairs<K, V>(std::marker::PhantomData<(K, V)>);
    impl<'de, K: serde::Deserialize<'de>, V: serde::Deserialize<'de>> serde::de::Visitor<'de>
        for Pairs<K, V>
    {
        type Value = Vec<(K, V)>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a map")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut pairs = Vec::new();
            while let Some(pair) = map.next_entry()? {
                pairs.push(pair);
            }
            Ok(pairs)
        }
    }
    deserializer
        .deserialize_map(Pairs(std::marker::PhantomData))
        .map(collect_map)
}

/// Writes a `LiteMap` as a JSON object (`#[serde(serialize_with = ...)]`), an empty one as `{}`:
/// `LiteMap`'s own `Serialize` writes an empty map as `[]`, which a map's reader refuses.
pub fn serialize_map<S, K, V>(map: &LiteMap<K, V>, serializer: S) -> Result<S::Ok, S::Error>
where
    S: serde::Serializer,
    K: serde::Serialize,
    V: serde::Serialize,
{
    serializer.collect_map(map.iter())
}

/// Of each run of pairs with equal keys in `sorted`, the last.
fn last_of_each_key<K: Ord, V>(sorted: Vec<(K, V)>) -> Vec<(K, V)> {
    let mut out: Vec<(K, V)> = Vec::with_capacity(sorted.len());
    for pair in sorted {
        match out.last_mut() {
            Some(last) if last.0 == pair.0 => *last = pair,
            _ => out.push(pair),
        }
    }
    out
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

    proptest! {
        #[test]
        fn collect_map_holds_what_collect_into_a_btree_map_holds_in_its_order(
            pairs in prop::collection::vec((0u8..40, any::<u16>()), 0..200),
            sorted_first in any::<bool>(),
        ) {
            let mut pairs = pairs;
            if sorted_first {
                pairs.sort_by_key(|p| p.0);
            }
            let ours = collect_map(pairs.clone());
            let standard: std::collections::BTreeMap<u8, u16> = pairs.into_iter().collect();
            let ours: Vec<(u8, u16)> = ours.iter().map(|(k, v)| (*k, *v)).collect();
            let standard: Vec<(u8, u16)> = standard.into_iter().collect();
            prop_assert_eq!(ours, standard);
        }

        #[test]
        fn collect_set_holds_each_item_once_in_order_and_finds_every_one(
            items in prop::collection::vec(0u16..300, 0..200),
        ) {
            let set = collect_set(items.clone());
            let standard: std::collections::BTreeSet<u16> = items.iter().copied().collect();
            prop_assert_eq!(set.keys().copied().collect::<Vec<_>>(), standard.iter().copied().collect::<Vec<_>>());
            for item in 0u16..300 {
                prop_assert_eq!(set.contains_key(&item), standard.contains(&item));
            }
        }

        #[test]
        fn a_litemap_filled_by_inserting_answers_as_a_btree_map_does(
            steps in prop::collection::vec((0u8..30, any::<i32>(), any::<bool>()), 0..150),
        ) {
            let mut ours: LiteMap<u8, i32> = LiteMap::new();
            let mut standard = std::collections::BTreeMap::new();
            for (key, value, remove) in steps {
                if remove {
                    prop_assert_eq!(ours.remove(&key), standard.remove(&key));
                } else {
                    *ours.entry(key).or_insert(0) += value % 1000;
                    *standard.entry(key).or_insert(0) += value % 1000;
                }
                prop_assert_eq!(ours.get(&key), standard.get(&key));
            }
            let ours: Vec<(u8, i32)> = ours.iter().map(|(k, v)| (*k, *v)).collect();
            prop_assert_eq!(ours, standard.into_iter().collect::<Vec<_>>());
        }
    }

    proptest! {
        #[test]
        fn fold_by_key_gives_what_folding_into_a_btree_map_entry_by_entry_gives(
            pairs in prop::collection::vec((0u8..25, any::<u8>()), 0..200),
        ) {
            let ours = fold_by_key(pairs.clone(), |acc: &mut Vec<u8>, v| acc.push(v));
            let mut standard: std::collections::BTreeMap<u8, Vec<u8>> = Default::default();
            for (k, v) in pairs {
                standard.entry(k).or_default().push(v);
            }
            prop_assert_eq!(ours, standard.into_iter().collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_map_written_with_serialize_map_reads_back_through_deserialize_map_even_empty() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct Holder {
            #[serde(serialize_with = "serialize_map", deserialize_with = "deserialize_map")]
            m: LiteMap<String, u32>,
        }
        for pairs in [vec![], vec![("b".to_string(), 2), ("a".to_string(), 1)]] {
            let holder = Holder {
                m: collect_map(pairs.clone()),
            };
            let text = serde_json::to_string(&holder).unwrap();
            let standard: std::collections::BTreeMap<String, u32> = pairs.into_iter().collect();
            assert_eq!(
                text,
                serde_json::to_string(&serde_json::json!({ "m": standard })).unwrap()
            );
            assert_eq!(serde_json::from_str::<Holder>(&text).unwrap(), holder);
        }
    }

    #[test]
    fn distinct_lists_what_a_btree_set_of_the_items_holds() {
        let items = [5, 3, 9, 3, 1, 5, 5];
        let set: std::collections::BTreeSet<i32> = items.into_iter().collect();
        assert_eq!(distinct(items), set.into_iter().collect::<Vec<_>>());
        assert_eq!(distinct(Vec::<i32>::new()), Vec::<i32>::new());
    }

    #[test]
    fn deserialize_map_reads_an_object_as_a_btree_map_reads_it_and_fails_as_it_does() {
        #[derive(serde::Deserialize)]
        struct Ours {
            #[serde(deserialize_with = "deserialize_map")]
            m: LiteMap<String, u32>,
        }
        #[derive(serde::Deserialize)]
        struct Standard {
            m: std::collections::BTreeMap<String, u32>,
        }
        for text in [
            r#"{"m": {"b": 1, "a": 2, "b": 3}}"#,
            r#"{"m": {}}"#,
            r#"{"m": {"z": 1, "y": 2, "x": 3}}"#,
            r#"{"m": []}"#,
            r#"{"m": "x"}"#,
            r#"{"m": {"a": -1}}"#,
            r#"{"m": {"a": 1, "b": "2"}}"#,
        ] {
            let ours = serde_json::from_str::<Ours>(text)
                .map(|o| o.m.iter().map(|(k, v)| (k.clone(), *v)).collect::<Vec<_>>())
                .map_err(|e| e.to_string());
            let standard = serde_json::from_str::<Standard>(text)
                .map(|s| s.m.into_iter().collect::<Vec<_>>())
                .map_err(|e| e.to_string());
            assert_eq!(ours, standard, "{text}");
        }
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
