;; SIMD kernels of per-pixel class decisions (128-bit WebAssembly SIMD): the argmax of planar
;; float32 logits (4 pixels per instruction) and the vertical blend + argmax of two horizontally
;; resampled rows of a bilinear resize (2 float64 pixels per instruction).
;;
;; Source of classKernelsWasm.ts (build: ./build.sh, needs wat2wasm from Debian's wabt).
;; Both give the bits of the scalar JavaScript they replace (semanticArgmax.ts, the row blend of
;; runtime/fastResizeArgmax.ts): a class replaces the best only when strictly greater, so ties
;; keep the lowest class and a NaN never wins (a NaN best keeps class 0); products of two
;; float32 values are exact in float64 and the one rounded sum is IEEE 754 binary64 with
;; round-to-nearest-even, as in JavaScript; neither fuses a multiply and an add.
;; No function calls inside loops: V8 does not inline WebAssembly calls.
(module
  (memory (export "memory") 1)

  ;; argmax of `count` pixels whose class c is the float32 at src + c·stride + 4k (pixel k);
  ;; writes the winning class of pixel k as a byte at ids + k (classes ≤ 256) and its value as a
  ;; float32 at win + 4k. Works 4 pixels at a time: count is rounded up to a multiple of 4, and
  ;; the padding lanes read and write the bytes just past each area.
  (func (export "argmax") (param $src i32) (param $stride i32) (param $classes i32) (param $count i32) (param $ids i32) (param $win i32)
    (local $k i32) (local $end i32) (local $p i32) (local $c i32)
    (local $best v128) (local $arg v128) (local $v v128) (local $m v128) (local $n v128)
    (local.set $end (i32.shl (local.get $count) (i32.const 2)))
    (block $done
      (br_if $done (i32.eqz (local.get $count)))
      (loop $px
        (local.set $p (i32.add (local.get $src) (local.get $k)))
        (local.set $best (v128.load (local.get $p)))
        (local.set $arg (v128.const i32x4 0 0 0 0))
        (local.set $c (i32.const 1))
        (block $cdone
          (br_if $cdone (i32.ge_u (local.get $c) (local.get $classes)))
          (loop $cl
            (local.set $p (i32.add (local.get $p) (local.get $stride)))
            (local.set $v (v128.load (local.get $p)))
            (local.set $m (f32x4.gt (local.get $v) (local.get $best)))
            (local.set $best (v128.bitselect (local.get $v) (local.get $best) (local.get $m)))
            (local.set $arg (v128.bitselect (i32x4.splat (local.get $c)) (local.get $arg) (local.get $m)))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br_if $cl (i32.lt_u (local.get $c) (local.get $classes)))))
        (v128.store (i32.add (local.get $win) (local.get $k)) (local.get $best))
        ;; the four i32 class ids (< 256) as four bytes
        (local.set $n (i16x8.narrow_i32x4_u (local.get $arg) (local.get $arg)))
        (v128.store32_lane 0 (i32.add (local.get $ids) (i32.shr_u (local.get $k) (i32.const 2)))
          (i8x16.narrow_i16x8_u (local.get $n) (local.get $n)))
        (local.set $k (i32.add (local.get $k) (i32.const 16)))
        (br_if $px (i32.lt_u (local.get $k) (local.get $end))))))

  ;; One output row of a bilinear resize + argmax from two horizontally resampled source rows
  ;; a and b, [classes][count] float32 each (row c at a + c·rowBytes): per pixel k the class with
  ;; the largest a·wy0 + b·wy1 (float64), as a byte at arg + k. Two pixels at a time: an odd count
  ;; reads one float past each class row and writes one byte past the output.
  (func (export "blend") (param $a i32) (param $b i32) (param $rowBytes i32) (param $classes i32) (param $count i32)
        (param $wy0 f64) (param $wy1 f64) (param $arg i32)
    (local $k i32) (local $end i32) (local $pa i32) (local $pb i32) (local $c i32)
    (local $w0 v128) (local $w1 v128) (local $best v128) (local $ids v128) (local $v v128) (local $m v128)
    (local.set $w0 (f64x2.splat (local.get $wy0)))
    (local.set $w1 (f64x2.splat (local.get $wy1)))
    (local.set $end (i32.shl (local.get $count) (i32.const 2)))
    (block $done
      (br_if $done (i32.eqz (local.get $count)))
      (loop $px
        (local.set $pa (i32.add (local.get $a) (local.get $k)))
        (local.set $pb (i32.add (local.get $b) (local.get $k)))
        (local.set $best (f64x2.splat (f64.const -inf)))
        (local.set $ids (v128.const i64x2 0 0))
        (local.set $c (i32.const 0))
        (loop $cl
          (local.set $v (f64x2.add
            (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $pa))) (local.get $w0))
            (f64x2.mul (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $pb))) (local.get $w1))))
          (local.set $m (f64x2.gt (local.get $v) (local.get $best)))
          (local.set $best (v128.bitselect (local.get $v) (local.get $best) (local.get $m)))
          (local.set $ids (v128.bitselect (i64x2.splat (i64.extend_i32_u (local.get $c))) (local.get $ids) (local.get $m)))
          (local.set $pa (i32.add (local.get $pa) (local.get $rowBytes)))
          (local.set $pb (i32.add (local.get $pb) (local.get $rowBytes)))
          (local.set $c (i32.add (local.get $c) (i32.const 1)))
          (br_if $cl (i32.lt_u (local.get $c) (local.get $classes))))
        ;; bytes 0 and 8 (the low bytes of the two ids) to bytes 0 and 1
        (v128.store16_lane 0 (i32.add (local.get $arg) (i32.shr_u (local.get $k) (i32.const 2)))
          (i8x16.shuffle 0 8 0 0 0 0 0 0 0 0 0 0 0 0 0 0 (local.get $ids) (local.get $ids)))
        (local.set $k (i32.add (local.get $k) (i32.const 8)))
        (br_if $px (i32.lt_u (local.get $k) (local.get $end))))))

  ;; The horizontal pass of a bilinear resize of one source row: class c's row of `inBytes`
  ;; bytes at src + c·inBytes; output pixel k = src[x0] · w0 + src[x1] · w1 in float64 rounded
  ;; once to float32 (as a JavaScript store into a Float32Array), written to dst + c·4·count + 4k.
  ;; taps: per output pixel the byte offsets of x0 and x1 (i32 each) at taps + 8k, and the
  ;; weights w0, w1 (float64 holding float32 values) at taps + 8·count + 16k.
  (func (export "resample") (param $src i32) (param $inBytes i32) (param $classes i32) (param $count i32) (param $taps i32) (param $dst i32)
    (local $c i32) (local $k i32) (local $row i32) (local $t i32) (local $w i32) (local $o i32)
    (local.set $c (i32.const 0))
    (local.set $o (local.get $dst))
    (block $done
      (br_if $done (i32.or (i32.eqz (local.get $count)) (i32.eqz (local.get $classes))))
      (loop $cl
        (local.set $row (i32.add (local.get $src) (i32.mul (local.get $c) (local.get $inBytes))))
        (local.set $t (local.get $taps))
        (local.set $w (i32.add (local.get $taps) (i32.shl (local.get $count) (i32.const 3))))
        (local.set $k (i32.const 0))
        (loop $px
          (f32.store (local.get $o)
            (f32.demote_f64 (f64.add
              (f64.mul (f64.promote_f32 (f32.load (i32.add (local.get $row) (i32.load (local.get $t))))) (f64.load (local.get $w)))
              (f64.mul (f64.promote_f32 (f32.load (i32.add (local.get $row) (i32.load offset=4 (local.get $t))))) (f64.load offset=8 (local.get $w))))))
          (local.set $o (i32.add (local.get $o) (i32.const 4)))
          (local.set $t (i32.add (local.get $t) (i32.const 8)))
          (local.set $w (i32.add (local.get $w) (i32.const 16)))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br_if $px (i32.lt_u (local.get $k) (local.get $count))))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br_if $cl (i32.lt_u (local.get $c) (local.get $classes))))))

  ;; blend for two output rows that share the source rows a and b, with weights (wy0, wy1) and
  ;; (wz0, wz1): each source value is read once for both; classes at arg and arg2.
  (func (export "blend2") (param $a i32) (param $b i32) (param $rowBytes i32) (param $classes i32) (param $count i32)
        (param $wy0 f64) (param $wy1 f64) (param $wz0 f64) (param $wz1 f64) (param $arg i32) (param $arg2 i32)
    (local $k i32) (local $end i32) (local $pa i32) (local $pb i32) (local $c i32)
    (local $w0 v128) (local $w1 v128) (local $z0 v128) (local $z1 v128)
    (local $best v128) (local $ids v128) (local $best2 v128) (local $ids2 v128)
    (local $x v128) (local $y v128) (local $v v128) (local $m v128) (local $cc v128)
    (local.set $w0 (f64x2.splat (local.get $wy0)))
    (local.set $w1 (f64x2.splat (local.get $wy1)))
    (local.set $z0 (f64x2.splat (local.get $wz0)))
    (local.set $z1 (f64x2.splat (local.get $wz1)))
    (local.set $end (i32.shl (local.get $count) (i32.const 2)))
    (block $done
      (br_if $done (i32.eqz (local.get $count)))
      (loop $px
        (local.set $pa (i32.add (local.get $a) (local.get $k)))
        (local.set $pb (i32.add (local.get $b) (local.get $k)))
        (local.set $best (f64x2.splat (f64.const -inf)))
        (local.set $best2 (f64x2.splat (f64.const -inf)))
        (local.set $ids (v128.const i64x2 0 0))
        (local.set $ids2 (v128.const i64x2 0 0))
        (local.set $c (i32.const 0))
        (loop $cl
          (local.set $x (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $pa))))
          (local.set $y (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $pb))))
          (local.set $cc (i64x2.splat (i64.extend_i32_u (local.get $c))))
          (local.set $v (f64x2.add (f64x2.mul (local.get $x) (local.get $w0)) (f64x2.mul (local.get $y) (local.get $w1))))
          (local.set $m (f64x2.gt (local.get $v) (local.get $best)))
          (local.set $best (v128.bitselect (local.get $v) (local.get $best) (local.get $m)))
          (local.set $ids (v128.bitselect (local.get $cc) (local.get $ids) (local.get $m)))
          (local.set $v (f64x2.add (f64x2.mul (local.get $x) (local.get $z0)) (f64x2.mul (local.get $y) (local.get $z1))))
          (local.set $m (f64x2.gt (local.get $v) (local.get $best2)))
          (local.set $best2 (v128.bitselect (local.get $v) (local.get $best2) (local.get $m)))
          (local.set $ids2 (v128.bitselect (local.get $cc) (local.get $ids2) (local.get $m)))
          (local.set $pa (i32.add (local.get $pa) (local.get $rowBytes)))
          (local.set $pb (i32.add (local.get $pb) (local.get $rowBytes)))
          (local.set $c (i32.add (local.get $c) (i32.const 1)))
          (br_if $cl (i32.lt_u (local.get $c) (local.get $classes))))
        (v128.store16_lane 0 (i32.add (local.get $arg) (i32.shr_u (local.get $k) (i32.const 2)))
          (i8x16.shuffle 0 8 0 0 0 0 0 0 0 0 0 0 0 0 0 0 (local.get $ids) (local.get $ids)))
        (v128.store16_lane 0 (i32.add (local.get $arg2) (i32.shr_u (local.get $k) (i32.const 2)))
          (i8x16.shuffle 0 8 0 0 0 0 0 0 0 0 0 0 0 0 0 0 (local.get $ids2) (local.get $ids2)))
        (local.set $k (i32.add (local.get $k) (i32.const 8)))
        (br_if $px (i32.lt_u (local.get $k) (local.get $end)))))))
