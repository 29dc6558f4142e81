//! Sharing one mutable field between rayon tasks that write disjoint parts of it.

use std::marker::PhantomData;

/// A mutable `f64` buffer handed to parallel tasks that each touch a disjoint set of
/// elements (lines of a tensor grid that do not intersect). The tasks, not the type,
/// guarantee disjointness; every use states why its ranges are disjoint.
#[derive(Clone, Copy)]
pub(crate) struct SharedMut<'a> {
    ptr: *mut f64,
    len: usize,
    _life: PhantomData<&'a mut [f64]>,
}

// SAFETY: the pointer comes from a `&'a mut [f64]` that stays borrowed for 'a, and the
// callers of `slice` only create non-overlapping slices in concurrently running tasks.
unsafe impl Send for SharedMut<'_> {}
unsafe impl Sync for SharedMut<'_> {}

impl<'a> SharedMut<'a> {
    /// Wraps a buffer (borrowed mutably for the wrapper's lifetime).
    pub(crate) fn new(s: &'a mut [f64]) -> Self {
        SharedMut {
            ptr: s.as_mut_ptr(),
            len: s.len(),
            _life: PhantomData,
        }
    }

    /// Address of element `i` (for prefetch hints only; never dereferenced).
    #[inline(always)]
    pub(crate) fn ptr_at(&self, i: usize) -> *const f64 {
        self.ptr.wrapping_add(i.min(self.len)) as *const f64
    }

    /// The sub-slice `[start, start + len)`.
    ///
    /// # Safety
    /// No other live slice obtained from this buffer (in any thread) may overlap it.
    #[inline(always)]
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn slice(&self, start: usize, len: usize) -> &'a mut [f64] {
        assert!(start + len <= self.len, "SharedMut range out of bounds");
        // SAFETY: in bounds (checked) and non-overlapping by the caller's contract.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(start), len) }
    }
}
