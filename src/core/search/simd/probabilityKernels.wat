;; SIMD kernel of the merge search's probability statistics from logits (128-bit WebAssembly
;; SIMD, 2 float64 lanes = 2 pixels).
;;
;; Source of probabilityKernelsWasm.ts (build: ./build.sh, needs wat2wasm from Debian's wabt).
;; logitsBlock gives the same bits as logitsBlockScalar in ../logitsBlock.ts for a block whose
;; every x − max is ≥ −707 (it returns 0 otherwise, and the caller runs that block in scalar):
;; the same float64 operations in the same order per pixel (fastExpLog.ts's exp and log, whose
;; tables the caller copies to the addresses below), the same two partial sums per block (even
;; and odd pixels). WebAssembly float64 arithmetic is IEEE 754 binary64 with round-to-nearest-
;; even, as JavaScript's; neither fuses a multiply and an add.
;;
;; Memory (byte offsets): 0 exp table 2^(j/64) (64 f64); 1024, 3072, 5120 log tables c, 1/c and
;; log c (193 f64 each); 8192 max, 10240 Z then 1/Z, 12288 S (256 f64 each, one per pixel);
;; 14336 the block's results (C partial Σ p_c, then Σ H); 16384 e_c per class (C × 256 f64).
;; No function calls inside loops: V8 does not inline WebAssembly calls.
(module
  (memory (export "memory") 1)

  ;; One block of 256 pixels of planar float32 logits: class c of pixel k at src + c·stride + 4k.
  ;; Returns 1 when every x − max ≥ −707 (no NaN, no ±∞, no exp outside its fast range).
  (func (export "logitsBlock") (param $src i32) (param $stride i32) (param $classes i32) (result i32)
    (local $k i32) (local $c i32) (local $p i32) (local $q i32) (local $j i32)
    (local $d v128) (local $ok v128) (local $t v128) (local $nd v128) (local $n v128) (local $r v128)
    (local $e v128) (local $acc v128) (local $zz v128) (local $inv v128) (local $b v128) (local $m v128)
    (local $big v128) (local $ef v128) (local $tc v128) (local $tinv v128) (local $tlog v128) (local $r2 v128)

    ;; max = class 0; Z = S = 0
    (local.set $k (i32.const 0))
    (loop $p1
      (v128.store offset=8192 (local.get $k)
        (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $src) (i32.shr_u (local.get $k) (i32.const 1))))))
      (v128.store offset=10240 (local.get $k) (v128.const i64x2 0 0))
      (v128.store offset=12288 (local.get $k) (v128.const i64x2 0 0))
      (local.set $k (i32.add (local.get $k) (i32.const 16)))
      (br_if $p1 (i32.lt_u (local.get $k) (i32.const 2048))))
    ;; max over the other classes: max < x ? x : max (pmax), as `if (x > max) max = x`
    (local.set $c (i32.const 1))
    (block $p2done
      (br_if $p2done (i32.ge_u (local.get $c) (local.get $classes)))
      (loop $p2c
        (local.set $p (i32.add (local.get $src) (i32.mul (local.get $c) (local.get $stride))))
        (local.set $k (i32.const 0))
        (loop $p2
          (v128.store offset=8192 (local.get $k)
            (f64x2.pmax (v128.load offset=8192 (local.get $k))
              (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $p) (i32.shr_u (local.get $k) (i32.const 1)))))))
          (local.set $k (i32.add (local.get $k) (i32.const 16)))
          (br_if $p2 (i32.lt_u (local.get $k) (i32.const 2048))))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br_if $p2c (i32.lt_u (local.get $c) (local.get $classes)))))

    ;; e_c = exp(d), d = x − max; Z += e_c; S += e_c·d
    (local.set $ok (v128.const i64x2 -1 -1))
    (local.set $c (i32.const 0))
    (loop $p3c
      (local.set $p (i32.add (local.get $src) (i32.mul (local.get $c) (local.get $stride))))
      (local.set $q (i32.mul (local.get $c) (i32.const 2048)))
      (local.set $k (i32.const 0))
      (loop $p3
        (local.set $d (f64x2.sub
          (f64x2.promote_low_f32x4 (v128.load64_zero (i32.add (local.get $p) (i32.shr_u (local.get $k) (i32.const 1)))))
          (v128.load offset=8192 (local.get $k))))
        (local.set $ok (v128.and (local.get $ok) (f64x2.ge (local.get $d) (f64x2.splat (f64.const -707)))))
        ;; fastExp: t = d·64/ln2 + 1.5·2^52 holds n = round(d·64/ln2) in its low bits
        (local.set $t (f64x2.add (f64x2.mul (local.get $d) (f64x2.splat (f64.const 0x1.71547652b82fep+6)))
                                 (f64x2.splat (f64.const 0x1.8p+52))))
        (local.set $nd (f64x2.sub (local.get $t) (f64x2.splat (f64.const 0x1.8p+52))))
        (local.set $n (i64x2.sub (local.get $t) (v128.const i64x2 0x4338000000000000 0x4338000000000000)))
        (local.set $r (f64x2.sub
          (f64x2.sub (local.get $d) (f64x2.mul (local.get $nd) (f64x2.splat (f64.const 0x1.62e42feep-7))))
          (f64x2.mul (local.get $nd) (f64x2.splat (f64.const 0x1.a39ef35793c76p-39)))))
        ;; p(r) = 1 + r(1 + r(1/2 + r(1/6 + r(1/24 + r(1/120 + r/720)))))
        (local.set $e
          (f64x2.add (f64x2.splat (f64.const 1)) (f64x2.mul (local.get $r)
          (f64x2.add (f64x2.splat (f64.const 1)) (f64x2.mul (local.get $r)
          (f64x2.add (f64x2.splat (f64.const 0.5)) (f64x2.mul (local.get $r)
          (f64x2.add (f64x2.splat (f64.const 0x1.5555555555555p-3)) (f64x2.mul (local.get $r)
          (f64x2.add (f64x2.splat (f64.const 0x1.5555555555555p-5)) (f64x2.mul (local.get $r)
          (f64x2.add (f64x2.splat (f64.const 0x1.1111111111111p-7)) (f64x2.mul (local.get $r)
            (f64x2.splat (f64.const 0x1.6c16c16c16c17p-10)))))))))))))))
        ;; 2^k · (2^(j/64) · p), n = 64k + j; 2^k built from its exponent bits
        (local.set $j (i32.shl (i32.and (i32.wrap_i64 (i64x2.extract_lane 0 (local.get $n))) (i32.const 63)) (i32.const 3)))
        (local.set $tc (f64x2.splat (f64.load (local.get $j))))
        (local.set $j (i32.shl (i32.and (i32.wrap_i64 (i64x2.extract_lane 1 (local.get $n))) (i32.const 63)) (i32.const 3)))
        (local.set $tc (f64x2.replace_lane 1 (local.get $tc) (f64.load (local.get $j))))
        (local.set $e (f64x2.mul
          (i64x2.shl (i64x2.add (i64x2.shr_s (local.get $n) (i32.const 6)) (v128.const i64x2 1023 1023)) (i32.const 52))
          (f64x2.mul (local.get $tc) (local.get $e))))
        (v128.store offset=16384 (i32.add (local.get $q) (local.get $k)) (local.get $e))
        (v128.store offset=10240 (local.get $k) (f64x2.add (v128.load offset=10240 (local.get $k)) (local.get $e)))
        (v128.store offset=12288 (local.get $k)
          (f64x2.add (v128.load offset=12288 (local.get $k)) (f64x2.mul (local.get $e) (local.get $d))))
        (local.set $k (i32.add (local.get $k) (i32.const 16)))
        (br_if $p3 (i32.lt_u (local.get $k) (i32.const 2048))))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br_if $p3c (i32.lt_u (local.get $c) (local.get $classes))))

    ;; H = log Z − S/Z per pixel, summed per lane; Z replaced by 1/Z
    (local.set $acc (v128.const i64x2 0 0))
    (local.set $k (i32.const 0))
    (loop $p4
      (local.set $zz (v128.load offset=10240 (local.get $k)))
      (local.set $inv (f64x2.div (f64x2.splat (f64.const 1)) (local.get $zz)))
      ;; fastLog(Z), Z ≥ 1: Z = 2^e·m, m in [0.75, 1.5)
      (local.set $b (i64x2.sub (i64x2.shr_u (local.get $zz) (i32.const 52)) (v128.const i64x2 1023 1023)))
      (local.set $m (v128.or (v128.and (local.get $zz) (v128.const i64x2 0x000fffffffffffff 0x000fffffffffffff))
                             (v128.const i64x2 0x3ff0000000000000 0x3ff0000000000000)))
      (local.set $big (f64x2.ge (local.get $m) (f64x2.splat (f64.const 1.5))))
      (local.set $m (v128.bitselect (f64x2.mul (local.get $m) (f64x2.splat (f64.const 0.5))) (local.get $m) (local.get $big)))
      (local.set $b (i64x2.sub (local.get $b) (local.get $big)))
      (local.set $ef (f64x2.convert_low_i32x4_s (i8x16.shuffle 0 1 2 3 8 9 10 11 0 1 2 3 8 9 10 11 (local.get $b) (local.get $b))))
      ;; table index round((m − 1)·256) + 64 (floor(y + 0.5) is Math.round here: y + 0.5 is exact)
      (local.set $t (i32x4.trunc_sat_f64x2_s_zero (f64x2.floor (f64x2.add
        (f64x2.mul (f64x2.sub (local.get $m) (f64x2.splat (f64.const 1))) (f64x2.splat (f64.const 256)))
        (f64x2.splat (f64.const 0.5))))))
      (local.set $j (i32.shl (i32.add (i32x4.extract_lane 0 (local.get $t)) (i32.const 64)) (i32.const 3)))
      (local.set $tc (f64x2.splat (f64.load offset=1024 (local.get $j))))
      (local.set $tinv (f64x2.splat (f64.load offset=3072 (local.get $j))))
      (local.set $tlog (f64x2.splat (f64.load offset=5120 (local.get $j))))
      (local.set $j (i32.shl (i32.add (i32x4.extract_lane 1 (local.get $t)) (i32.const 64)) (i32.const 3)))
      (local.set $tc (f64x2.replace_lane 1 (local.get $tc) (f64.load offset=1024 (local.get $j))))
      (local.set $tinv (f64x2.replace_lane 1 (local.get $tinv) (f64.load offset=3072 (local.get $j))))
      (local.set $tlog (f64x2.replace_lane 1 (local.get $tlog) (f64.load offset=5120 (local.get $j))))
      (local.set $r (f64x2.mul (f64x2.sub (local.get $m) (local.get $tc)) (local.get $tinv)))
      (local.set $r2 (f64x2.mul (local.get $r) (local.get $r)))
      ;; log1p(r) = r − r²(1/2 − r(1/3 − r(1/4 − r(1/5 − r(1/6 − r(1/7 − r/8))))))
      (local.set $r2 (f64x2.sub (local.get $r) (f64x2.mul (local.get $r2)
        (f64x2.sub (f64x2.splat (f64.const 0.5)) (f64x2.mul (local.get $r)
        (f64x2.sub (f64x2.splat (f64.const 0x1.5555555555555p-2)) (f64x2.mul (local.get $r)
        (f64x2.sub (f64x2.splat (f64.const 0.25)) (f64x2.mul (local.get $r)
        (f64x2.sub (f64x2.splat (f64.const 0x1.999999999999ap-3)) (f64x2.mul (local.get $r)
        (f64x2.sub (f64x2.splat (f64.const 0x1.5555555555555p-3)) (f64x2.mul (local.get $r)
        (f64x2.sub (f64x2.splat (f64.const 0x1.2492492492492p-3)) (f64x2.mul (local.get $r)
          (f64x2.splat (f64.const 0.125)))))))))))))))))
      ;; log Z = e·ln2_hi + (log c + (series + e·ln2_lo))
      (local.set $tlog (f64x2.add (f64x2.mul (local.get $ef) (f64x2.splat (f64.const 0x1.62e42feep-1)))
        (f64x2.add (local.get $tlog)
          (f64x2.add (local.get $r2) (f64x2.mul (local.get $ef) (f64x2.splat (f64.const 0x1.a39ef35793c76p-33)))))))
      (local.set $acc (f64x2.add (local.get $acc)
        (f64x2.sub (local.get $tlog) (f64x2.mul (v128.load offset=12288 (local.get $k)) (local.get $inv)))))
      (v128.store offset=10240 (local.get $k) (local.get $inv))
      (local.set $k (i32.add (local.get $k) (i32.const 16)))
      (br_if $p4 (i32.lt_u (local.get $k) (i32.const 2048))))
    (f64.store offset=14336 (i32.shl (local.get $classes) (i32.const 3))
      (f64.add (f64x2.extract_lane 0 (local.get $acc)) (f64x2.extract_lane 1 (local.get $acc))))

    ;; Σ_k e_c / Z per class, per lane, then the two lanes
    (local.set $c (i32.const 0))
    (loop $p5c
      (local.set $q (i32.mul (local.get $c) (i32.const 2048)))
      (local.set $acc (v128.const i64x2 0 0))
      (local.set $k (i32.const 0))
      (loop $p5
        (local.set $acc (f64x2.add (local.get $acc)
          (f64x2.mul (v128.load offset=16384 (i32.add (local.get $q) (local.get $k))) (v128.load offset=10240 (local.get $k)))))
        (local.set $k (i32.add (local.get $k) (i32.const 16)))
        (br_if $p5 (i32.lt_u (local.get $k) (i32.const 2048))))
      (f64.store offset=14336 (i32.shl (local.get $c) (i32.const 3))
        (f64.add (f64x2.extract_lane 0 (local.get $acc)) (f64x2.extract_lane 1 (local.get $acc))))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br_if $p5c (i32.lt_u (local.get $c) (local.get $classes))))
    (i64x2.all_true (local.get $ok))))
