//! The inode table: which node of the hierarchy each inode number stands
//! for. Numbers are handed out on first sight and never reused; a node that
//! is deleted loses its number, so a node created later under the same name
//! gets a new one (the kernel never confuses the two).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use fuser::INodeNo;
use parking_lot::RwLock;

use crate::names::ViewKind;

/// What an inode is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum NodeRef {
    /// A directory: the group (or the store root) at this path.
    Dir(String),
    /// One file of the array at this path.
    View(String, ViewKind),
}

impl NodeRef {
    /// The node path (group or array).
    pub fn path(&self) -> &str {
        match self {
            NodeRef::Dir(p) | NodeRef::View(p, _) => p,
        }
    }
}

/// Marks "no page cache known valid".
const NO_GEN: u64 = u64::MAX;

/// One inode.
#[derive(Debug)]
pub(crate) struct Inode {
    /// Its number.
    pub ino: INodeNo,
    /// What it stands for.
    pub node: NodeRef,
    /// The array generation whose contents the kernel's page cache of this
    /// inode holds (see `arrays::ArrayEntry::generation`).
    cached_gen: AtomicU64,
}

impl Inode {
    /// Whether the page cache holds the contents of generation `gen`.
    pub fn cache_valid_for(&self, gen: u64) -> bool {
        self.cached_gen.load(Ordering::Acquire) == gen
    }

    /// Records that the page cache now holds generation `gen` (or nothing
    /// known, with `None`).
    pub fn set_cached_gen(&self, gen: Option<u64>) {
        self.cached_gen
            .store(gen.unwrap_or(NO_GEN), Ordering::Release);
    }
}

#[derive(Debug, Default)]
struct Maps {
    by_ino: HashMap<u64, Arc<Inode>>,
    by_node: HashMap<NodeRef, u64>,
}

/// The table.
#[derive(Debug)]
pub(crate) struct InodeTable {
    maps: RwLock<Maps>,
    next: AtomicU64,
}

impl InodeTable {
    /// A table holding the root directory as inode 1.
    pub fn new() -> InodeTable {
        let t = InodeTable {
            maps: RwLock::new(Maps::default()),
            next: AtomicU64::new(INodeNo::ROOT.0 + 1),
        };
        let root = Arc::new(Inode {
            ino: INodeNo::ROOT,
            node: NodeRef::Dir(String::new()),
            cached_gen: AtomicU64::new(NO_GEN),
        });
        let mut m = t.maps.write();
        m.by_node.insert(root.node.clone(), INodeNo::ROOT.0);
        m.by_ino.insert(INodeNo::ROOT.0, root);
        drop(m);
        t
    }

    /// The inode `ino`, if known.
    pub fn get(&self, ino: INodeNo) -> Option<Arc<Inode>> {
        self.maps.read().by_ino.get(&ino.0).cloned()
    }

    /// The inode of `node`, numbering it if new.
    pub fn intern(&self, node: NodeRef) -> Arc<Inode> {
        if let Some(i) = self.lookup(&node) {
            return i;
        }
        let mut m = self.maps.write();
        if let Some(&n) = m.by_node.get(&node) {
            return Arc::clone(&m.by_ino[&n]);
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let inode = Arc::new(Inode {
            ino: INodeNo(n),
            node: node.clone(),
            cached_gen: AtomicU64::new(NO_GEN),
        });
        m.by_node.insert(node, n);
        m.by_ino.insert(n, Arc::clone(&inode));
        inode
    }

    /// The inode of `node` if it has one.
    pub fn lookup(&self, node: &NodeRef) -> Option<Arc<Inode>> {
        let m = self.maps.read();
        m.by_node.get(node).map(|n| Arc::clone(&m.by_ino[n]))
    }

    /// Forgets `path` and everything under it (a deleted node); returns the
    /// inodes dropped. Their numbers are never handed out again.
    pub fn remove_tree(&self, path: &str) -> Vec<Arc<Inode>> {
        let mut m = self.maps.write();
        let prefix = format!("{path}/");
        let gone: Vec<NodeRef> = m
            .by_node
            .keys()
            .filter(|n| {
                let p = n.path();
                (p == path || path.is_empty() || p.starts_with(&prefix))
                    && **n != NodeRef::Dir(String::new())
            })
            .cloned()
            .collect();
        let mut out = Vec::new();
        for n in gone {
            if let Some(i) = m.by_node.remove(&n) {
                if let Some(inode) = m.by_ino.remove(&i) {
                    out.push(inode);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbering() {
        let t = InodeTable::new();
        assert_eq!(
            t.get(INodeNo::ROOT).unwrap().node,
            NodeRef::Dir(String::new())
        );
        let a = t.intern(NodeRef::View("g/a".into(), ViewKind::Npy));
        let b = t.intern(NodeRef::View("g/a".into(), ViewKind::Raw));
        let g = t.intern(NodeRef::Dir("g".into()));
        let x = t.intern(NodeRef::Dir("gx".into()));
        assert_ne!(a.ino, b.ino);
        assert_eq!(
            t.intern(NodeRef::View("g/a".into(), ViewKind::Npy)).ino,
            a.ino
        );
        let gone = t.remove_tree("g");
        assert_eq!(gone.len(), 3);
        assert!(t.get(g.ino).is_none());
        assert!(t.get(x.ino).is_some());
        let a2 = t.intern(NodeRef::View("g/a".into(), ViewKind::Npy));
        assert!(a2.ino.0 > x.ino.0);
        assert!(!a2.cache_valid_for(0));
        a2.set_cached_gen(Some(3));
        assert!(a2.cache_valid_for(3));
    }
}
