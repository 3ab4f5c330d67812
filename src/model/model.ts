import type { TrainOptions } from '../als/options.js';
import type { CsrMatrix } from '../data/sparse.js';
import type { InputFormat } from '../data/read.js';

/** What was read to train a model (no timings, so that model.json is reproducible). */
export interface InputSummary {
  file: string;
  format: InputFormat;
  rows: number;
  used: number;
  skipped: number;
  zeroCounts: number;
  duplicates: number;
  header: boolean;
}

/** One `als update` applied to a model: what was read, and what it changed. */
export interface UpdateSummary extends InputSummary {
  /** existing users whose rows grew and who were re-solved */
  usersUpdated: number;
  /** new users appended (and solved) */
  usersAdded: number;
  /** user–artist pairs left out because the artist is not in the model */
  unknownItemPairs: number;
  /** distinct artists not in the model */
  unknownItems: number;
}

/** Where a model read by `als import` came from (src/model/sparkFormat.ts). */
export interface ImportSummary {
  /** the format read */
  format: 'spark';
  /** the Spark model directory read, absolute */
  from: string;
  /** the metadata's sparkVersion and uid */
  sparkVersion: string;
  uid: string;
  rank: number;
  /** the id table the user ids came from, or 'spark ids' when Spark's integer ids are the ids */
  userNames: string;
  /** the id table the item names came from, or 'spark ids' */
  itemNames: string;
  /**
   * the interactions attached as the model's counts (user–item pairs kept, pairs left out for a
   * user or an item the model lacks), or null: the model holds no counts, so nothing is left out
   * as already seen and no item has a known number of users
   */
  interactions: { kept: number; unknownUserPairs: number; unknownItemPairs: number } | null;
}

/**
 * Which training engine made a model other than the built-in one (model.json's training.engine):
 * for Spark, the master it ran on, Spark's version and the settings Spark was given.
 */
export interface TrainedBy {
  engine: string;
  [key: string]: unknown;
}

/**
 * A trained model. One loaded from disk reads each big part on first use, so a query pays
 * only for what it touches.
 */
export interface AlsModel {
  readonly users: number;
  readonly items: number;
  readonly factors: number;
  /** users × factors, row-major */
  readonly userFactors: Float32Array;
  /** items × factors, row-major */
  readonly itemFactors: Float32Array;
  /** original id of each user row */
  readonly userIds: string[];
  /** display name of each item row */
  readonly itemNames: string[];
  /** users × items play counts (after duplicates were summed), to filter and explain */
  readonly userItems: CsrMatrix;
  /**
   * distinct users of each item (columnCounts(userItems)); stored in the model, so that the
   * listener filter of `similar` need not read every play count
   */
  readonly itemUserCounts: Int32Array;
  readonly options: TrainOptions;
  readonly input: InputSummary | null;
  /** loss after each iteration, when training computed it */
  readonly losses: number[] | null;
  /** the updates applied since training, oldest first (absent: none) */
  readonly updates?: UpdateSummary[];
  /**
   * the rule that chose the settings not given (`als train`: dataDefaults.ts), and the options it
   * set; absent when no rule was applied (the library's train)
   */
  readonly defaults?: AppliedDefaults;
  /** where the model was imported from (absent: trained by als) */
  readonly imported?: ImportSummary;
  /** the engine that trained it, when not the built-in one (absent: the built-in one) */
  readonly trainedBy?: TrainedBy;
}

/** A defaults rule as applied to a training (DefaultsRule with only the options it set). */
export interface AppliedDefaults {
  rule: string;
  description: string;
  options: Record<string, unknown>;
}
